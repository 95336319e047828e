import type { NotificationView } from "@colony/types/notifications";
import { Alert, Anchor, Badge, Button, Group, Loader, Paper, Stack, Switch, Text, Title } from "@mantine/core";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { reasonOf } from "../../lib/errors";
import { api } from "../../lib/session";
import { allNotificationsRead, appPath, notificationKeys, notificationRead } from "./cache";
import { TYPE_LABELS } from "./labels";
import classes from "./Notifications.module.css";
import { useScreenTitle } from "./screen-title";
import { fullTime, relativeTime } from "./time";

const PAGE_SIZE = 30;

function NotificationRow({ notification, onRead, marking }: { notification: NotificationView; onRead: () => void; marking: boolean }) {
	const to = appPath(notification.link);
	const unread = !notification.readAt;
	return (
		<Paper component="li" withBorder p="sm">
			<Group justify="space-between" align="flex-start" wrap="nowrap">
				<Group gap="sm" align="flex-start" wrap="nowrap" style={{ minWidth: 0 }}>
					<span className={unread ? classes.unreadDot : classes.readDot} aria-hidden="true" />
					<Stack gap={4} style={{ minWidth: 0 }}>
						<Group gap="xs">
							<Text fw={unread ? 700 : 500}>
								{to ? (
									<Anchor component={Link} to={to} inherit onClick={() => unread && onRead()}>
										{notification.title}
									</Anchor>
								) : (
									notification.title
								)}
							</Text>
							<Badge variant="light" color="gray" size="sm">
								{TYPE_LABELS[notification.type]?.one ?? notification.type}
							</Badge>
							{unread && (
								<Badge variant="filled" size="sm">
									Unread
								</Badge>
							)}
						</Group>
						{notification.body && <Text size="sm">{notification.body}</Text>}
						<Text size="xs" c="dimmed">
							<time dateTime={notification.createdAt} title={fullTime(notification.createdAt)}>
								{relativeTime(notification.createdAt)}
							</time>
						</Text>
					</Stack>
				</Group>
				{unread && (
					<Button variant="default" size="compact-sm" onClick={onRead} loading={marking} aria-label={`Mark read: ${notification.title}`}>
						Mark read
					</Button>
				)}
			</Group>
		</Paper>
	);
}

/** Every notification, newest first, a page at a time. */
export default function NotificationsPage() {
	useScreenTitle("Notifications");
	const queryClient = useQueryClient();
	const [unreadOnly, setUnreadOnly] = useState(false);
	const list = useInfiniteQuery({
		queryKey: notificationKeys.list(unreadOnly),
		queryFn: ({ pageParam }) => api.notifications({ unread: unreadOnly || undefined, cursor: pageParam ?? undefined, limit: PAGE_SIZE }),
		initialPageParam: null as string | null,
		getNextPageParam: (last) => last.nextCursor,
	});
	const markAll = useMutation({ mutationFn: () => api.markAllNotificationsRead(), onSuccess: () => allNotificationsRead(queryClient) });
	const markOne = useMutation({
		mutationFn: (id: number) => api.markNotificationRead(id),
		onSuccess: ({ notification, unread }) => notificationRead(queryClient, notification, unread),
	});

	const items = list.data?.pages.flatMap((page) => page.items) ?? [];
	const unread = list.data?.pages[0]?.unread ?? 0;
	const failure = markAll.error ?? markOne.error;

	return (
		<Stack p="md" maw={860}>
			<Group justify="space-between" align="center">
				<Title order={1}>Notifications</Title>
				<Group gap="md">
					<Switch label="Unread only" checked={unreadOnly} onChange={(event) => setUnreadOnly(event.currentTarget.checked)} />
					<Button variant="default" onClick={() => markAll.mutate()} loading={markAll.isPending} disabled={unread === 0}>
						Mark all read
					</Button>
				</Group>
			</Group>
			<Group justify="space-between">
				<Text c="dimmed" size="sm" role="status">
					{list.data ? (unread === 0 ? "Everything is read." : `${unread} unread`) : ""}
				</Text>
				<Anchor component={Link} to="/settings/notifications" size="sm">
					Notification preferences
				</Anchor>
			</Group>
			{failure && (
				<Alert color="red" role="alert">
					{reasonOf(failure)}
				</Alert>
			)}
			{list.isPending ? (
				<Loader aria-label="Loading notifications" mx="auto" />
			) : !list.data ? (
				<Alert color="red" role="alert" title="The notifications could not be loaded">
					<Stack gap="xs" align="flex-start">
						<Text size="sm">{reasonOf(list.error)}</Text>
						<Button size="compact-sm" variant="default" onClick={() => void list.refetch()}>
							Try again
						</Button>
					</Stack>
				</Alert>
			) : items.length === 0 ? (
				<Text>{unreadOnly ? "No unread notifications." : "No notifications yet."}</Text>
			) : (
				<Stack component="ul" gap="xs" className={classes.list} aria-label={unreadOnly ? "Unread notifications" : "All notifications"}>
					{items.map((notification) => (
						<NotificationRow
							key={notification.id}
							notification={notification}
							marking={markOne.isPending && markOne.variables === notification.id}
							onRead={() => markOne.mutate(notification.id)}
						/>
					))}
				</Stack>
			)}
			{list.hasNextPage && (
				<Button variant="default" onClick={() => void list.fetchNextPage()} loading={list.isFetchingNextPage} style={{ alignSelf: "center" }}>
					Load more
				</Button>
			)}
			{list.isFetchNextPageError && (
				<Alert color="red" role="alert">
					{reasonOf(list.error)}
				</Alert>
			)}
		</Stack>
	);
}

import type { NotificationView } from "@colony/types/notifications";
import { ActionIcon, Alert, Anchor, Button, Group, Indicator, Loader, Popover, ScrollArea, Stack, Text, Title, UnstyledButton, VisuallyHidden } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { reasonOf } from "../../lib/errors";
import { api, useBridgeEvent } from "../../lib/session";
import { allNotificationsRead, appPath, LATEST_COUNT, notificationKeys, notificationRead, receiveNotification } from "./cache";
import classes from "./Notifications.module.css";
import { fullTime, relativeTime } from "./time";

function BellIcon() {
	return (
		<svg aria-hidden="true" width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round">
			<path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
			<path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
		</svg>
	);
}

/** The bell's name, as screen readers and end-to-end tests find it. */
function bellLabel(unread: number): string {
	return unread > 0 ? `Notifications, ${unread} unread` : "Notifications";
}

function LatestItem({ notification, onOpen }: { notification: NotificationView; onOpen: () => void }) {
	const to = appPath(notification.link);
	const unread = !notification.readAt;
	const content = (
		<Group gap="xs" wrap="nowrap" align="flex-start">
			<span className={unread ? classes.unreadDot : classes.readDot} aria-hidden="true" />
			<Stack gap={2} style={{ minWidth: 0 }}>
				<Text size="sm" fw={unread ? 700 : 400} lineClamp={2}>
					{unread && <VisuallyHidden>Unread: </VisuallyHidden>}
					{notification.title}
				</Text>
				{notification.body && (
					<Text size="xs" c="dimmed" lineClamp={2}>
						{notification.body}
					</Text>
				)}
				<Text size="xs" c="dimmed">
					<time dateTime={notification.createdAt} title={fullTime(notification.createdAt)}>
						{relativeTime(notification.createdAt)}
					</time>
				</Text>
			</Stack>
		</Group>
	);
	return to ? (
		<UnstyledButton component={Link} to={to} className={classes.item} onClick={onOpen}>
			{content}
		</UnstyledButton>
	) : (
		<UnstyledButton className={classes.item} onClick={onOpen}>
			{content}
		</UnstyledButton>
	);
}

/** The header's bell: the unread count, live from the socket, and the latest notifications in a popover. */
export function NotificationBell() {
	const queryClient = useQueryClient();
	const [opened, setOpened] = useState(false);
	const [announcement, setAnnouncement] = useState("");
	const latest = useQuery({ queryKey: notificationKeys.latest, queryFn: () => api.notifications({ limit: LATEST_COUNT }) });

	useBridgeEvent("notification", (notification) => {
		receiveNotification(queryClient, notification);
		setAnnouncement(`New notification: ${notification.title}`);
	});
	// Whatever arrived while the socket was not connected (yet, or any more) was not pushed: the list is read again.
	useBridgeEvent("connected", () => void queryClient.invalidateQueries({ queryKey: notificationKeys.all }));

	const markAll = useMutation({ mutationFn: () => api.markAllNotificationsRead(), onSuccess: () => allNotificationsRead(queryClient) });
	const markOne = useMutation({
		mutationFn: (id: number) => api.markNotificationRead(id),
		onSuccess: ({ notification, unread }) => notificationRead(queryClient, notification, unread),
	});

	const unread = latest.data?.unread ?? 0;
	const items = latest.data?.items ?? [];
	const failure = latest.error ?? markAll.error ?? markOne.error;

	return (
		<>
			<Popover opened={opened} onChange={setOpened} hideDetached={false} position="bottom-end" width={360} shadow="md" trapFocus returnFocus withinPortal>
				<Indicator label={unread} maxValue={99} size={18} offset={4} color="red.9" disabled={unread === 0} attributes={{ indicator: { "aria-hidden": "true" } }}>
					<Popover.Target>
						<ActionIcon variant="default" size="lg" aria-label={bellLabel(unread)} onClick={() => setOpened((open) => !open)}>
							<BellIcon />
						</ActionIcon>
					</Popover.Target>
				</Indicator>
				<Popover.Dropdown aria-labelledby="notification-bell-title" p="xs">
					<Stack gap="xs">
						<Group justify="space-between" wrap="nowrap" px="xs">
							<Title order={2} size="h5" id="notification-bell-title">
								Notifications
							</Title>
							<Button variant="subtle" size="compact-sm" onClick={() => markAll.mutate()} loading={markAll.isPending} disabled={unread === 0}>
								Mark all read
							</Button>
						</Group>
						{failure && (
							<Alert color="red" role="alert" p="xs">
								{reasonOf(failure)}
							</Alert>
						)}
						{latest.isPending ? (
							<Loader size="sm" mx="auto" aria-label="Loading notifications" />
						) : items.length === 0 ? (
							<Text size="sm" c="dimmed" px="xs">
								No notifications yet.
							</Text>
						) : (
							<ScrollArea.Autosize mah="min(420px, 60vh)" type="auto" offsetScrollbars>
								<ul className={classes.list} aria-label="Latest notifications">
									{items.map((notification) => (
										<li key={notification.id}>
											<LatestItem
												notification={notification}
												onOpen={() => {
													setOpened(false);
													if (!notification.readAt) markOne.mutate(notification.id);
												}}
											/>
										</li>
									))}
								</ul>
							</ScrollArea.Autosize>
						)}
						<Group justify="space-between" px="xs" pb={4}>
							<Anchor component={Link} to="/notifications" size="sm" onClick={() => setOpened(false)}>
								All notifications
							</Anchor>
							<Anchor component={Link} to="/settings/notifications" size="sm" onClick={() => setOpened(false)}>
								Preferences
							</Anchor>
						</Group>
					</Stack>
				</Popover.Dropdown>
			</Popover>
			<VisuallyHidden role="status" aria-live="polite">
				{announcement}
			</VisuallyHidden>
		</>
	);
}

import type { ChannelListItem, PresenceStatus, UnreadView } from "@colony/client";
import { ActionIcon, Badge, Group, NavLink, Text, VisuallyHidden } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { Link, NavLink as RouterNavLink, useMatch } from "react-router";
import { useBridgeEvent, useMe } from "../../lib/session";
import { channelName, chatKeys, countMessage, memberChannels, otherMember, useChannels, useDirectory, usePresence, useUnread } from "./data";
import { HashIcon, LockIcon, PlusIcon } from "./icons";
import classes from "./nav.module.css";
import { PresenceDot, PresenceText } from "./PresenceDot";

// The dialogs load when first opened: the sidebar is in the first bundle, they need not be.
const NewChannelDialog = lazy(() => import("./NewChannelDialog"));
const NewDirectMessageDialog = lazy(() => import("./NewDirectMessageDialog"));

function Counts({ counts }: { counts: UnreadView | undefined }) {
	if (!counts || (counts.unread === 0 && counts.mentions === 0)) return null;
	return (
		<Group gap={4} wrap="nowrap">
			{counts.mentions > 0 && (
				<Badge size="sm" color="red.9" autoContrast tt="none">
					{counts.mentions} <VisuallyHidden>{counts.mentions === 1 ? "mention" : "mentions"}</VisuallyHidden>
				</Badge>
			)}
			{counts.unread > 0 && (
				<Badge size="sm" variant="default" tt="none">
					{counts.unread} <VisuallyHidden>unread</VisuallyHidden>
				</Badge>
			)}
		</Group>
	);
}

function SectionHeading({ children, action }: { children: string; action: ReactNode }) {
	return (
		<div className={classes.heading}>
			<Text component="h2" size="sm" fw={700} className={classes.muted}>
				{children}
			</Text>
			{action}
		</div>
	);
}

interface ItemProps {
	channel: ChannelListItem;
	label: string;
	active: boolean;
	counts: UnreadView | undefined;
	presence?: PresenceStatus;
}

function ChannelLink({ channel, label, active, counts, presence }: ItemProps) {
	const unread = (counts?.unread ?? 0) > 0;
	const icon = channel.type === "direct" ? <PresenceDot status={presence} silent /> : channel.type === "private" ? <LockIcon size={14} /> : <HashIcon size={14} />;
	return (
		<NavLink
			component={Link}
			to={`/channels/${channel.id}`}
			active={active}
			className={classes.link}
			aria-current={active ? "page" : undefined}
			leftSection={icon}
			label={
				<span className={unread ? classes.unreadLabel : undefined}>
					{label} {channel.type === "private" && <VisuallyHidden>(private)</VisuallyHidden>}
					{channel.type === "direct" && <PresenceText status={presence} />}
				</span>
			}
			rightSection={<Counts counts={counts} />}
		/>
	);
}

/** The sidebar's channels and direct messages, with their unread counts kept live. */
export function ChannelNav() {
	const me = useMe();
	const queryClient = useQueryClient();
	const channels = useChannels();
	const unread = useUnread();
	const directory = useDirectory();
	const activeId = Number(useMatch("/channels/:channelId")?.params.channelId);
	const [dialog, setDialog] = useState<"channel" | "direct" | null>(null);
	const [loaded, setLoaded] = useState({ channel: false, direct: false });
	const refetchTimer = useRef<ReturnType<typeof setTimeout>>(undefined);

	const { rooms, direct } = useMemo(() => memberChannels(channels.data, me.id, directory.byId), [channels.data, me.id, directory.byId]);
	const partners = useMemo(() => direct.map((channel) => otherMember(channel, me.id)).filter((id): id is number => id !== undefined), [direct, me.id]);
	const presence = usePresence(partners);
	const counts = useMemo(() => new Map((unread.data ?? []).map((item) => [item.channelId, item])), [unread.data]);

	useBridgeEvent("chat.message", (message) => {
		// Someone who joined after the directory was loaded: their name is fetched now, not "Unknown user".
		if (directory.loaded && !directory.byId.has(message.userId)) directory.refetch();
		const known = queryClient.getQueryData<ChannelListItem[]>(chatKeys.channels)?.some((channel) => channel.id === message.channelId && channel.member);
		if (!known) {
			// A conversation someone opened with us, or a channel we were added to.
			void queryClient.invalidateQueries({ queryKey: chatKeys.channels });
			void queryClient.invalidateQueries({ queryKey: chatKeys.unread });
			return;
		}
		queryClient.setQueryData<UnreadView[]>(chatKeys.unread, (old) => countMessage(old, message, me.id));
	});
	useBridgeEvent("chat.message.deleted", () => void queryClient.invalidateQueries({ queryKey: chatKeys.unread }));
	useBridgeEvent("connected", ({ reconnect }) => {
		if (!reconnect) return;
		// After the bridge's catch-up has delivered what it missed, the server's counts are the truth again.
		clearTimeout(refetchTimer.current);
		refetchTimer.current = setTimeout(() => {
			void queryClient.invalidateQueries({ queryKey: chatKeys.unread });
			void queryClient.invalidateQueries({ queryKey: chatKeys.channels });
		}, 2_000);
	});
	useEffect(() => () => clearTimeout(refetchTimer.current), []);

	const open = (which: "channel" | "direct") => {
		setLoaded((current) => ({ ...current, [which]: true }));
		setDialog(which);
	};

	return (
		<>
			<NavLink component={RouterNavLink} to="/browse" label="Browse channels" className={classes.link} />
			<SectionHeading
				action={
					<ActionIcon variant="subtle" color="gray" size="sm" aria-label="New channel" onClick={() => open("channel")}>
						<PlusIcon size={14} />
					</ActionIcon>
				}
			>
				Channels
			</SectionHeading>
			{rooms.map((channel) => (
				<ChannelLink key={channel.id} channel={channel} label={channel.name ?? ""} active={channel.id === activeId} counts={counts.get(channel.id)} />
			))}
			{channels.isSuccess && rooms.length === 0 && (
				<Text size="sm" px="md" className={classes.muted}>
					No channels yet.
				</Text>
			)}
			{channels.isError && (
				<Text size="sm" px="md" role="alert">
					Channels could not be loaded.
				</Text>
			)}
			<SectionHeading
				action={
					<ActionIcon variant="subtle" color="gray" size="sm" aria-label="New direct message" onClick={() => open("direct")}>
						<PlusIcon size={14} />
					</ActionIcon>
				}
			>
				Direct messages
			</SectionHeading>
			{direct.map((channel) => {
				const other = otherMember(channel, me.id);
				return (
					<ChannelLink
						key={channel.id}
						channel={channel}
						label={channelName(channel, me.id, directory.byId)}
						active={channel.id === activeId}
						counts={counts.get(channel.id)}
						presence={other === undefined ? undefined : presence[other]}
					/>
				);
			})}
			<Suspense fallback={null}>
				{loaded.channel && <NewChannelDialog opened={dialog === "channel"} onClose={() => setDialog(null)} />}
				{loaded.direct && <NewDirectMessageDialog opened={dialog === "direct"} onClose={() => setDialog(null)} />}
			</Suspense>
		</>
	);
}

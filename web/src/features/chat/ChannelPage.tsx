import type { ChannelView, MessageView, OutboxItem, SendResult } from "@colony/client";
import { Alert, Button, Group, Modal, Stack, Text, Title, VisuallyHidden } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { ScreenLoader } from "../../layout/ScreenLoader";
import { reasonOf } from "../../lib/errors";
import { api, useBridgeEvent, useMe, useSession } from "../../lib/session";
import classes from "./chat.module.css";
import { Composer } from "./Composer";
import { channelName, chatKeys, mergeUnread, otherMember, useChannels, useDirectory, usePresence } from "./data";
import { HashIcon, LockIcon } from "./icons";
import { rememberChannel } from "./lastChannel";
import { typingSentence, useAssistantStreams, usePending, useTyping } from "./liveState";
import { MessageItem, PendingItem, StreamItem, type MessageHandlers, type People } from "./MessageItem";
import { MessageList } from "./MessageList";
import { useChannelMessages } from "./messageStore";
import { PresenceDot, PresenceText } from "./PresenceDot";
import { buildRows, replyCounts, type Row } from "./rows";
import { ThreadPanel } from "./ThreadPanel";

function newClientMsgId(): string {
	return globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function shorten(text: string, length = 60): string {
	return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

function Unavailable({ reason }: { reason: string }) {
	return (
		<Stack p="md" maw={640}>
			<Title order={1}>Channel not available</Title>
			<Alert color="red" role="alert">
				{reason}
			</Alert>
			<Group>
				<Button component={Link} to="/browse" variant="default">
					Find a channel
				</Button>
			</Group>
		</Stack>
	);
}

/** `/channels/:channelId`: one channel or direct conversation. */
export default function ChannelPage() {
	const { channelId } = useParams();
	const id = Number(channelId);
	const valid = Number.isInteger(id) && id > 0;
	const channels = useChannels();
	const listed = channels.data?.find((channel) => channel.id === id);
	// A channel created since the list was loaded.
	const unlisted = useQuery({
		queryKey: chatKeys.channel(id),
		queryFn: async () => (await api.request<{ channel: ChannelView }>("GET", `/channels/${id}`)).channel,
		enabled: valid && channels.isSuccess && !listed,
		retry: false,
	});
	if (!valid) return <Unavailable reason="There is no such channel." />;
	if (channels.isError) return <Unavailable reason={reasonOf(channels.error)} />;
	if (listed) return <ChannelScreen key={id} channel={listed} member={listed.member} />;
	if (unlisted.isError) return <Unavailable reason={reasonOf(unlisted.error)} />;
	// Only members can read a private or direct channel; a public one is readable by all.
	if (unlisted.data) return <ChannelScreen key={id} channel={unlisted.data} member={unlisted.data.type !== "public"} />;
	return <ScreenLoader label="Loading the channel" />;
}

function ChannelScreen({ channel, member }: { channel: ChannelView; member: boolean }) {
	const me = useMe();
	const { bridge } = useSession();
	const queryClient = useQueryClient();
	const directory = useDirectory();
	const [params, setParams] = useSearchParams();
	const threadId = Number(params.get("thread")) || null;
	const store = useChannelMessages(channel.id);
	const { upsert, fill } = store;
	const { pending, add: addPending, remove: removePending } = usePending(channel.id);
	const isAssistant = useCallback((userId: number) => directory.byId.get(userId)?.assistant === true, [directory.byId]);
	const streams = useAssistantStreams(channel.id, isAssistant);
	const { typing, notifyTyping } = useTyping(channel.id, me.id);
	const [editingId, setEditingId] = useState<number | null>(null);
	const [deleting, setDeleting] = useState<MessageView | null>(null);
	const [notice, setNotice] = useState<string | null>(null);
	const [scrollSignal, setScrollSignal] = useState(0);
	const [joining, setJoining] = useState(false);
	const [offline, setOffline] = useState(() => !(bridge?.connected ?? true));
	useBridgeEvent("connected", () => setOffline(false));
	useBridgeEvent("disconnected", () => setOffline(true));
	useBridgeEvent("outbox.rejected", ({ item, error }) => {
		if (item.channelId !== channel.id) return;
		removePending(item.clientMsgId);
		setNotice(`Your message “${shorten(item.text)}” was not sent: ${reasonOf(error)}`);
	});

	useEffect(() => rememberChannel(me.id, channel.id), [me.id, channel.id]);

	const name = channelName(channel, me.id, directory.byId);
	const direct = channel.type === "direct";
	const partner = direct ? otherMember(channel, me.id) : undefined;
	const label = direct ? name : `#${name}`;

	const topLevel = useMemo(() => store.messages.filter((message) => message.parentId === null), [store.messages]);
	const replies = useMemo(() => replyCounts(store.messages), [store.messages]);
	const messageById = useMemo(() => new Map(store.messages.map((message) => [message.id, message])), [store.messages]);

	// Presence of the people writing here (and of the other person of a direct conversation).
	const authorIds = useMemo(() => {
		const ids = new Set(topLevel.map((message) => message.userId));
		ids.add(me.id);
		if (partner !== undefined) ids.add(partner);
		return [...ids].filter((userId) => !directory.byId.get(userId)?.assistant);
	}, [topLevel, me.id, partner, directory.byId]);
	const presence = usePresence(authorIds);

	// Someone new wrote: the directory is out of date.
	const directoryRefreshed = useRef(0);
	useEffect(() => {
		if (!directory.loaded || Date.now() - directoryRefreshed.current < 30_000) return;
		if (topLevel.some((message) => !directory.byId.has(message.userId))) {
			directoryRefreshed.current = Date.now();
			directory.refetch();
		}
	}, [topLevel, directory]);

	const usernames = useMemo(() => new Set(directory.list.map((user) => user.username.toLowerCase())), [directory.list]);
	const people = useMemo<People>(
		() => ({
			byId: directory.byId,
			list: directory.list,
			usernames,
			presence,
			me,
			member,
			moderator: me.roles.includes("admin") || channel.createdBy === me.id,
		}),
		[directory.byId, directory.list, usernames, presence, me, member, channel.createdBy],
	);
	const assistant = useMemo(() => directory.list.find((user) => user.assistant), [directory.list]);

	const streamList = useMemo(() => [...streams.values()], [streams]);
	const threadOf = useCallback((replyTo: number) => messageById.get(replyTo)?.parentId ?? null, [messageById]);
	const mainStreams = useMemo(() => streamList.filter((stream) => threadOf(stream.replyTo) === null), [streamList, threadOf]);
	const mainPending = useMemo(() => pending.filter((item) => item.parentId === undefined), [pending]);

	const rows = useMemo(
		() =>
			store.status === "ready"
				? buildRows({ messages: topLevel, replies, pending: mainPending, streams: mainStreams, hasOlder: store.olderCursor !== null })
				: [],
		[store.status, topLevel, replies, mainPending, mainStreams, store.olderCursor],
	);

	const setParamsRef = useRef(setParams);
	setParamsRef.current = setParams;
	const openThread = useCallback((message: MessageView) => {
		setParamsRef.current((current) => {
			const next = new URLSearchParams(current);
			next.set("thread", String(message.id));
			return next;
		});
	}, []);
	const closeThread = useCallback(() => {
		setParamsRef.current((current) => {
			const next = new URLSearchParams(current);
			next.delete("thread");
			return next;
		});
	}, []);

	const handlers = useMemo<MessageHandlers>(
		() => ({
			react(message, emoji) {
				api.react(message.id, emoji).then(
					(updated) => upsert([updated]),
					(err: unknown) => setNotice(`The reaction was not saved: ${reasonOf(err)}`),
				);
			},
			startEdit: (message) => setEditingId(message.id),
			cancelEdit: () => setEditingId(null),
			async saveEdit(message, text) {
				try {
					upsert([await api.editMessage(message.id, text)]);
					setEditingId(null);
					return true;
				} catch (err) {
					setNotice(`The message was not saved: ${reasonOf(err)}`);
					return false;
				}
			},
			remove: (message) => setDeleting(message),
			openThread,
		}),
		[upsert, openThread],
	);
	const threadHandlers = useMemo<MessageHandlers>(() => ({ ...handlers, openThread: undefined }), [handlers]);

	const confirmDelete = async () => {
		const message = deleting;
		setDeleting(null);
		if (!message) return;
		try {
			upsert([await api.deleteMessage(message.id)]);
		} catch (err) {
			setNotice(`The message was not deleted: ${reasonOf(err)}`);
		}
	};

	const send = useCallback(
		(text: string, parentId?: number) => {
			const clientMsgId = newClientMsgId();
			const item: OutboxItem = { clientMsgId, channelId: channel.id, text, queuedAt: new Date().toISOString(), ...(parentId ? { parentId } : {}) };
			addPending(item);
			if (!parentId) setScrollSignal((signal) => signal + 1);
			const outgoing = { channelId: channel.id, text, clientMsgId, ...(parentId ? { parentId } : {}) };
			const sending: Promise<SendResult> = bridge
				? bridge.sendMessage(outgoing)
				: api.sendMessage(outgoing).then((message) => ({ status: "sent", clientMsgId, message }));
			sending.then(
				(result) => {
					// Queued: it stays pending until the bridge delivers it.
					if (result.status !== "sent") return;
					upsert([result.message]);
					removePending(clientMsgId);
				},
				(err: unknown) => {
					removePending(clientMsgId);
					setNotice(`Your message “${shorten(text)}” was not sent: ${reasonOf(err)}`);
				},
			);
		},
		[bridge, channel.id, addPending, removePending, upsert],
	);

	// The newest message in view means the channel is read.
	const readUpTo = useRef(0);
	const newest = store.messages[store.messages.length - 1];
	const newestRef = useRef(newest);
	newestRef.current = newest;
	const markRead = useCallback(() => {
		const message = newestRef.current;
		if (!member || !message || message.id <= readUpTo.current || document.visibilityState !== "visible") return;
		readUpTo.current = message.id;
		api.markRead(channel.id, message.id).then(
			(items) => queryClient.setQueryData(chatKeys.unread, (old: Parameters<typeof mergeUnread>[0]) => mergeUnread(old, items)),
			() => {
				readUpTo.current = 0;
			},
		);
	}, [member, channel.id, queryClient]);

	const join = async () => {
		setJoining(true);
		try {
			await api.joinChannel(channel.id);
			await queryClient.invalidateQueries({ queryKey: chatKeys.channels });
			void queryClient.invalidateQueries({ queryKey: chatKeys.unread });
		} catch (err) {
			setNotice(reasonOf(err));
		} finally {
			setJoining(false);
		}
	};

	const renderRow = useCallback(
		(row: Row) => {
			switch (row.kind) {
				case "intro":
					return (
						<Stack gap={2} px="md" pt="lg" pb="sm">
							<Text fw={700}>{direct ? `This is the beginning of your conversation with ${name}.` : `This is the very beginning of #${name}.`}</Text>
							{channel.topic && <Text size="sm">{channel.topic}</Text>}
						</Stack>
					);
				case "message":
					return (
						<MessageItem
							day={row.day}
							message={row.message}
							compact={row.compact}
							replies={row.replies}
							editing={editingId === row.message.id}
							highlighted={threadId === row.message.id}
							people={people}
							handlers={handlers}
						/>
					);
				case "pending":
					return <PendingItem item={row.item} people={people} offline={offline} />;
				case "stream":
					return <StreamItem stream={row.stream} assistant={assistant} people={people} />;
			}
		},
		[direct, name, channel.topic, editingId, threadId, people, handlers, offline, assistant],
	);

	const typingNames = [...typing.entries()].map(([userId, entry]) => directory.byId.get(userId)?.displayName ?? entry.username);
	const threadReplies = useMemo(() => (threadId ? store.messages.filter((message) => message.parentId === threadId) : []), [store.messages, threadId]);
	const threadPending = useMemo(() => (threadId ? pending.filter((item) => item.parentId === threadId) : []), [pending, threadId]);
	const threadStreams = useMemo(() => (threadId ? streamList.filter((stream) => threadOf(stream.replyTo) === threadId) : []), [streamList, threadOf, threadId]);

	return (
		<div className={classes.screen}>
			<section className={classes.column} aria-labelledby="channel-title">
				<header className={classes.header}>
					<Group gap="xs" wrap="nowrap" align="center">
						{direct ? <PresenceDot status={partner === undefined ? undefined : presence[partner]} silent /> : channel.type === "private" ? <LockIcon /> : <HashIcon />}
						<Title order={1} size="h3" id="channel-title" style={{ minWidth: 0 }}>
							{name} {channel.type === "private" && <VisuallyHidden>(private channel)</VisuallyHidden>}
						</Title>
						{direct && <PresenceText status={partner === undefined ? undefined : presence[partner]} />}
					</Group>
					{channel.topic && (
						<Text size="sm" className={classes.muted} lineClamp={1} title={channel.topic}>
							{channel.topic}
						</Text>
					)}
				</header>
				<div className={classes.listWrap}>
					{store.status === "loading" && <ScreenLoader label="Loading messages" />}
					{store.status === "error" && (
						<Alert color="red" role="alert" m="md" title="Messages could not be loaded">
							{store.error}{" "}
							<Button size="compact-sm" variant="default" onClick={store.retry}>
								Try again
							</Button>
						</Alert>
					)}
					{store.status === "ready" && (
						<MessageList
							label={`Messages in ${label}`}
							rows={rows}
							renderRow={renderRow}
							hasOlder={store.olderCursor !== null}
							loadingOlder={store.loadingOlder}
							onLoadOlder={() => void store.loadOlder()}
							onReachEnd={markRead}
							scrollToEndSignal={scrollSignal}
						/>
					)}
				</div>
				<div className={classes.footer}>
					{store.olderError && (
						<Alert color="red" role="alert" mb="xs">
							Older messages could not be loaded: {store.olderError}
						</Alert>
					)}
					{notice && (
						<Alert color="red" role="alert" mb="xs" withCloseButton closeButtonLabel="Dismiss" onClose={() => setNotice(null)}>
							{notice}
						</Alert>
					)}
					{member ? (
						<Composer label={direct ? `Message ${name}` : `Message #${name}`} people={directory.list} onSend={(text) => send(text)} onTyping={notifyTyping} autoFocus />
					) : (
						<Group justify="space-between" py="xs">
							<Text size="sm">You are reading #{name}. Join it to write here.</Text>
							<Button onClick={() => void join()} loading={joining}>
								Join channel
							</Button>
						</Group>
					)}
					<div className={`${classes.typing} ${classes.muted}`}>{typingSentence(typingNames)}</div>
				</div>
			</section>
			{threadId !== null && (
				<ThreadPanel
					key={threadId}
					channelId={channel.id}
					rootId={threadId}
					root={messageById.get(threadId)}
					replies={threadReplies}
					pending={threadPending}
					streams={threadStreams}
					people={people}
					assistant={assistant}
					handlers={threadHandlers}
					editingId={editingId}
					offline={offline}
					fill={fill}
					onSend={send}
					onTyping={notifyTyping}
					onClose={closeThread}
					canReply={member}
				/>
			)}
			<Modal opened={deleting !== null} onClose={() => setDeleting(null)} title="Delete message" closeButtonProps={{ "aria-label": "Close" }}>
				<Text>Delete this message for everyone? It will show as “message deleted”.</Text>
				<Group justify="flex-end" mt="md">
					<Button variant="default" onClick={() => setDeleting(null)}>
						Cancel
					</Button>
					<Button color="red.9" onClick={() => void confirmDelete()} data-autofocus>
						Delete
					</Button>
				</Group>
			</Modal>
		</div>
	);
}

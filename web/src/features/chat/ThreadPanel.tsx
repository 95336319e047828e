import type { MessageView, OutboxItem, PublicUser } from "@colony/client";
import { Alert, Button, CloseButton, Group, Text, Title } from "@mantine/core";
import { useCallback, useEffect, useId, useLayoutEffect, useMemo, useRef, useState } from "react";
import { reasonOf } from "../../lib/errors";
import { api } from "../../lib/session";
import classes from "./chat.module.css";
import { Composer } from "./Composer";
import type { AssistantStream } from "./liveState";
import { MessageItem, PendingItem, StreamItem, type MessageHandlers, type People } from "./MessageItem";
import { buildRows } from "./rows";

const REPLIES_PAGE = 100;

export interface ThreadPanelProps {
	channelId: number;
	rootId: number;
	/** The thread's first message, if loaded. */
	root: MessageView | undefined;
	/** The loaded replies, ascending. */
	replies: MessageView[];
	pending: OutboxItem[];
	streams: AssistantStream[];
	people: People;
	assistant: PublicUser | undefined;
	handlers: MessageHandlers;
	editingId: number | null;
	offline: boolean;
	/** Adds loaded replies to the channel's messages. */
	fill(messages: MessageView[]): void;
	onSend(text: string, parentId: number): void;
	onTyping(): void;
	onClose(): void;
	/** May reply (a member of the channel). */
	canReply: boolean;
}

/** A thread beside the channel: its first message, the replies (loaded by `parentId`), and a composer replying in it. */
export function ThreadPanel(props: ThreadPanelProps) {
	const { channelId, rootId, root, replies, pending, streams, people, assistant, handlers, editingId, offline, fill, onSend, onTyping, onClose, canReply } = props;
	const headingId = useId();
	const scrollRef = useRef<HTMLDivElement>(null);
	const [cursor, setCursor] = useState<string | null>(null);
	const [loading, setLoading] = useState(true);
	const [error, setError] = useState<string | null>(null);

	const load = useCallback(
		async (before?: string) => {
			setLoading(true);
			setError(null);
			try {
				const page = await api.history(channelId, { parentId: rootId, limit: REPLIES_PAGE, ...(before ? { before } : {}) });
				fill(page.items);
				setCursor(page.nextCursor);
			} catch (err) {
				setError(reasonOf(err));
			} finally {
				setLoading(false);
			}
		},
		[channelId, rootId, fill],
	);

	useEffect(() => {
		void load();
	}, [load]);

	const rows = useMemo(() => buildRows({ messages: replies, pending, streams, hasOlder: true, days: false }), [replies, pending, streams]);

	// Opens at the newest reply, and follows new ones while at the bottom.
	const atBottom = useRef(true);
	useLayoutEffect(() => {
		const element = scrollRef.current;
		if (element && atBottom.current) element.scrollTop = element.scrollHeight;
	}, [rows, rootId]);

	const count = replies.filter((reply) => !reply.deletedAt).length;
	return (
		<aside className={classes.thread} aria-labelledby={headingId}>
			<Group justify="space-between" wrap="nowrap" className={classes.header}>
				<Title order={2} size="h4" id={headingId}>
					Thread
				</Title>
				<CloseButton aria-label="Close thread" onClick={onClose} />
			</Group>
			<div
				ref={scrollRef}
				className={`${classes.threadScroll} ${classes.focusable}`}
				role="log"
				aria-label="Replies"
				aria-busy={loading || undefined}
				tabIndex={0}
				onScroll={(event) => {
					const element = event.currentTarget;
					atBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < 80;
				}}
			>
				{root ? (
					<MessageItem message={root} compact={false} editing={editingId === root.id} people={people} handlers={handlers} />
				) : (
					<Text size="sm" px="md" py="xs" className={classes.muted}>
						The first message of this thread is further back in the channel.
					</Text>
				)}
				<div className={classes.divider}>{count === 1 ? "1 reply" : `${count} replies`}</div>
				{cursor && (
					<Group justify="center" py={4}>
						<Button size="compact-sm" variant="default" loading={loading} onClick={() => void load(cursor)}>
							Load earlier replies
						</Button>
					</Group>
				)}
				{error && (
					<Alert color="red" role="alert" mx="md">
						Replies could not be loaded: {error}
					</Alert>
				)}
				{rows.map((row) => {
					switch (row.kind) {
						case "message":
							return <MessageItem key={row.key} day={row.day} message={row.message} compact={row.compact} editing={editingId === row.message.id} people={people} handlers={handlers} />;
						case "pending":
							return <PendingItem key={row.key} item={row.item} people={people} offline={offline} />;
						case "stream":
							return <StreamItem key={row.key} stream={row.stream} assistant={assistant} people={people} />;
						default:
							return null;
					}
				})}
			</div>
			{canReply && (
				<div className={classes.footer}>
					<Composer label="Reply in thread" sendLabel="Send reply" people={people.list} onSend={(text) => onSend(text, rootId)} onTyping={onTyping} autoFocus />
				</div>
			)}
		</aside>
	);
}

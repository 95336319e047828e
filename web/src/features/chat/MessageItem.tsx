import type { MessageView, OutboxItem, PresenceStatus, PublicUser } from "@colony/client";
import { ActionIcon, Avatar, Badge, Button, Group, Menu, Text, Textarea, VisuallyHidden } from "@mantine/core";
import { memo, useState, type KeyboardEvent } from "react";
import classes from "./chat.module.css";
import { DotsIcon, SmileIcon } from "./icons";
import type { AssistantStream } from "./liveState";
import { MessageText } from "./MessageText";
import { PresenceDot } from "./PresenceDot";

/** The reactions offered by "Add reaction". */
export const REACTIONS: readonly (readonly [emoji: string, name: string])[] = [
	["👍", "thumbs up"],
	["❤️", "heart"],
	["😂", "laughing"],
	["🎉", "party"],
	["😮", "surprised"],
	["😢", "sad"],
	["👀", "eyes"],
	["✅", "done"],
];

// Colours whose filled shade keeps white initials at AA contrast.
const AVATAR_COLORS = ["blue", "cyan", "grape", "indigo", "pink", "red", "teal", "violet"];

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

function Time({ iso, className }: { iso: string; className?: string }) {
	const date = new Date(iso);
	return (
		<time dateTime={iso} title={fullFormat.format(date)} className={className}>
			{timeFormat.format(date)}
		</time>
	);
}

/** What a message can have done to it; the same object for every message of a list. */
export interface MessageHandlers {
	react(message: MessageView, emoji: string): void;
	startEdit(message: MessageView): void;
	cancelEdit(): void;
	/** Resolves true once saved. */
	saveEdit(message: MessageView, text: string): Promise<boolean>;
	remove(message: MessageView): void;
	/** Absent inside a thread. */
	openThread?(message: MessageView): void;
}

export interface People {
	byId: Map<number, PublicUser>;
	/** Everyone, for `@` suggestions. */
	list: readonly PublicUser[];
	/** Lowercase usernames, to mark mentions. */
	usernames: ReadonlySet<string>;
	presence: Record<number, PresenceStatus>;
	me: PublicUser;
	/** May write in the channel (react, edit, reply); others only read it. */
	member: boolean;
	/** May delete others' messages (admins, the channel's owner). */
	moderator: boolean;
}

function AuthorLine({ author, userId, presence, createdAt }: { author: PublicUser | undefined; userId: number; presence: PresenceStatus | undefined; createdAt: string }) {
	return (
		<Group gap={6} align="center" wrap="nowrap">
			<Text component="span" fw={700} size="sm" truncate>
				{author?.displayName ?? "Unknown user"}
			</Text>
			{author?.assistant ? (
				<Badge size="xs" variant="default" tt="none">
					AI
				</Badge>
			) : (
				<PresenceDot key={userId} status={presence} />
			)}
			<Text component="span" size="xs" className={classes.muted}>
				<Time iso={createdAt} />
			</Text>
		</Group>
	);
}

function Gutter({ compact, name, createdAt }: { compact: boolean; name: string; createdAt: string }) {
	return (
		<div className={classes.gutter}>
			{compact ? (
				<Time iso={createdAt} className={`${classes.compactTime} ${classes.muted}`} />
			) : (
				<Avatar size={36} radius="md" name={name} color="initials" allowedInitialsColors={AVATAR_COLORS} variant="filled" aria-hidden="true" />
			)}
		</div>
	);
}

function EditBox({ message, handlers }: { message: MessageView; handlers: MessageHandlers }) {
	const [text, setText] = useState(message.text ?? "");
	const [busy, setBusy] = useState(false);
	const save = async () => {
		if (!text.trim() || busy) return;
		if (text.trim() === (message.text ?? "").trim()) {
			handlers.cancelEdit();
			return;
		}
		setBusy(true);
		const saved = await handlers.saveEdit(message, text.trim());
		if (!saved) setBusy(false);
	};
	const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
		if (event.key === "Escape") {
			event.preventDefault();
			handlers.cancelEdit();
		} else if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
			event.preventDefault();
			void save();
		}
	};
	return (
		<div>
			<Textarea aria-label="Edit message" autosize minRows={1} maxRows={10} value={text} onChange={(event) => setText(event.currentTarget.value)} onKeyDown={onKeyDown} autoFocus />
			<Group gap="xs" mt={4}>
				<Button size="compact-sm" variant="default" onClick={handlers.cancelEdit}>
					Cancel
				</Button>
				<Button size="compact-sm" onClick={() => void save()} loading={busy} disabled={!text.trim()}>
					Save
				</Button>
				<Text size="xs" className={classes.muted}>
					Enter to save, Escape to cancel
				</Text>
			</Group>
		</div>
	);
}

function Reactions({ message, people, handlers }: { message: MessageView; people: People; handlers: MessageHandlers }) {
	if (message.reactions.length === 0) return null;
	return (
		<Group gap={4} mt={4}>
			{message.reactions.map((reaction) => {
				const mine = reaction.userIds.includes(people.me.id);
				const who = reaction.userIds.map((id) => people.byId.get(id)?.displayName ?? "someone").join(", ");
				return (
					<Button
						key={reaction.emoji}
						size="compact-xs"
						variant="default"
						radius="xl"
						aria-pressed={mine}
						title={`${who} reacted with ${reaction.emoji}`}
						style={mine ? { borderColor: "var(--mantine-primary-color-filled)", background: "var(--mantine-primary-color-light)" } : undefined}
						disabled={!people.member}
						onClick={() => handlers.react(message, reaction.emoji)}
					>
						{reaction.emoji} {reaction.count} <VisuallyHidden>{reaction.count === 1 ? "reaction" : "reactions"}</VisuallyHidden>
					</Button>
				);
			})}
		</Group>
	);
}

function Toolbar({ message, mine, people, handlers }: { message: MessageView; mine: boolean; people: People; handlers: MessageHandlers }) {
	const [open, setOpen] = useState<"react" | "more" | null>(null);
	const canDelete = mine || people.moderator;
	return (
		<div className={classes.actions} data-open={open ? true : undefined}>
			<Menu position="bottom-end" withinPortal withInitialFocusPlaceholder={false} opened={open === "react"} onChange={(opened) => setOpen(opened ? "react" : null)}>
				<Menu.Target>
					<ActionIcon variant="subtle" color="gray" aria-label="Add reaction">
						<SmileIcon />
					</ActionIcon>
				</Menu.Target>
				<Menu.Dropdown style={{ display: "grid", gridTemplateColumns: "repeat(4, auto)", gap: 2 }}>
					{REACTIONS.map(([emoji, name]) => (
						<Menu.Item key={emoji} aria-label={`React with ${emoji}`} title={name} onClick={() => handlers.react(message, emoji)} style={{ fontSize: 20, textAlign: "center" }}>
							{emoji}
						</Menu.Item>
					))}
				</Menu.Dropdown>
			</Menu>
			<Menu position="bottom-end" withinPortal withInitialFocusPlaceholder={false} opened={open === "more"} onChange={(opened) => setOpen(opened ? "more" : null)}>
				<Menu.Target>
					<ActionIcon variant="subtle" color="gray" aria-label="Message actions">
						<DotsIcon />
					</ActionIcon>
				</Menu.Target>
				<Menu.Dropdown>
					{handlers.openThread && <Menu.Item onClick={() => handlers.openThread?.(message)}>Reply in thread</Menu.Item>}
					{mine && <Menu.Item onClick={() => handlers.startEdit(message)}>Edit</Menu.Item>}
					{canDelete && <Menu.Item onClick={() => handlers.remove(message)}>Delete</Menu.Item>}
				</Menu.Dropdown>
			</Menu>
		</div>
	);
}

export interface MessageItemProps {
	message: MessageView;
	/** The day, above the first message of each. */
	day?: string | null;
	compact: boolean;
	/** Replies of a message of the main line; undefined inside a thread. */
	replies?: number;
	editing: boolean;
	highlighted?: boolean;
	people: People;
	handlers: MessageHandlers;
}

/** One message: author, time, text (or "message deleted"), reactions, replies, and its actions. */
export const MessageItem = memo(function MessageItem({ day, ...props }: MessageItemProps) {
	if (!day) return <MessageBody {...props} />;
	return (
		<>
			<div className={classes.divider}>{day}</div>
			<MessageBody {...props} />
		</>
	);
});

function MessageBody({ message, compact, replies, editing, highlighted, people, handlers }: Omit<MessageItemProps, "day">) {
	const author = people.byId.get(message.userId);
	const name = author?.displayName ?? "Unknown user";
	const mine = message.userId === people.me.id;
	const deleted = message.deletedAt !== null || message.text === null;
	return (
		<div className={classes.message} data-highlighted={highlighted || undefined} data-message-id={message.id}>
			<Gutter compact={compact} name={name} createdAt={message.createdAt} />
			<div className={classes.body}>
				{compact ? (
					<VisuallyHidden>
						{name}, <Time iso={message.createdAt} />
					</VisuallyHidden>
				) : (
					<AuthorLine author={author} userId={message.userId} presence={people.presence[message.userId]} createdAt={message.createdAt} />
				)}
				{editing && !deleted ? (
					<EditBox message={message} handlers={handlers} />
				) : deleted ? (
					<Text size="sm" fs="italic" className={classes.muted}>
						message deleted
					</Text>
				) : (
					<>
						<MessageText text={message.text ?? ""} usernames={people.usernames} me={people.me.username} />
						{message.editedAt && (
							<Text size="xs" className={classes.muted}>
								(edited)
							</Text>
						)}
					</>
				)}
				{!deleted && <Reactions message={message} people={people} handlers={handlers} />}
				{replies !== undefined && replies > 0 && handlers.openThread && (
					<Button size="compact-xs" variant="default" mt={4} onClick={() => handlers.openThread?.(message)}>
						{replies === 1 ? "1 reply" : `${replies} replies`}
					</Button>
				)}
			</div>
			{!deleted && !editing && people.member && <Toolbar message={message} mine={mine} people={people} handlers={handlers} />}
		</div>
	);
}

/** A message typed here that the server does not have yet (offline, or on its way). */
export function PendingItem({ item, people, offline }: { item: OutboxItem; people: People; offline: boolean }) {
	return (
		<div className={`${classes.message} ${classes.pending}`}>
			<Gutter compact={false} name={people.me.displayName} createdAt={item.queuedAt} />
			<div className={classes.body}>
				<AuthorLine author={people.me} userId={people.me.id} presence={people.presence[people.me.id]} createdAt={item.queuedAt} />
				<MessageText text={item.text} usernames={people.usernames} me={people.me.username} />
				<Text size="xs" className={classes.muted}>
					{offline ? "Pending: sent when Colony is reachable again" : "Sending…"}
				</Text>
			</div>
		</div>
	);
}

/** The assistant's answer while it is being written. */
export function StreamItem({ stream, assistant, people }: { stream: AssistantStream; assistant: PublicUser | undefined; people: People }) {
	const name = assistant?.displayName ?? "Colony AI";
	return (
		<div className={classes.message} aria-busy="true" data-stream-for={stream.replyTo}>
			<Gutter compact={false} name={name} createdAt={new Date().toISOString()} />
			<div className={classes.body}>
				<Group gap={6} align="center" wrap="nowrap">
					<Text component="span" fw={700} size="sm">
						{name}
					</Text>
					<Badge size="xs" variant="default" tt="none">
						AI
					</Badge>
					<Text component="span" size="xs" className={classes.muted}>
						writing…
					</Text>
				</Group>
				<MessageText text={stream.text} usernames={people.usernames} me={people.me.username} streaming />
			</div>
		</div>
	);
}

export type ChannelType = "public" | "private" | "direct";
export type MemberRole = "owner" | "member";

export interface ChannelView {
	id: number;
	type: ChannelType;
	name: string | null;
	topic: string | null;
	createdBy: number;
	createdAt: string;
	/** Only for direct channels: the two people in it. */
	memberIds?: number[];
}

export interface ReactionView {
	emoji: string;
	count: number;
	userIds: number[];
}

export interface MessageView {
	id: number;
	channelId: number;
	userId: number;
	parentId: number | null;
	/** null once the message is deleted: the tombstone keeps its place in the history. */
	text: string | null;
	mentions: number[];
	reactions: ReactionView[];
	clientMsgId: string | null;
	editedAt: string | null;
	deletedAt: string | null;
	createdAt: string;
}

export interface UnreadView {
	channelId: number;
	unread: number;
	mentions: number;
}

/** What the chat holds, for operators (`chat.stats`, internal). Deleted messages are not counted. */
export interface ChatStats {
	channels: Record<ChannelType, number> & { total: number };
	messages: { total: number; lastHour: number; lastDay: number };
	/** Channel memberships, and the people who are in at least one channel. */
	members: { memberships: number; people: number };
}

export interface ChatMessageEvent {
	message: MessageView;
	/** `memberIds`: the two people of a direct channel (absent for the others). */
	channel: { id: number; type: ChannelType; memberIds?: number[] };
}

export interface ChatTypingEvent {
	channelId: number;
	userId: number;
	username: string;
}

export interface ChatMemberEvent {
	channelId: number;
	userId: number;
	addedBy: number;
}

/** A question for the chat assistant, queued durably (`chat.assistant.jobs`). */
export interface AssistantJob {
	/** The message that asked; the answer is stored once per asking message. */
	messageId: number;
	channelId: number;
	requesterId: number;
}

/** Socket `ai.delta`: the next piece of the assistant's answer to `replyTo`. */
export interface AiDeltaEvent {
	channelId: number;
	replyTo: number;
	delta: string;
	/** Starts at 1; a higher number means the answer started over on another host: drop the pieces shown so far. */
	attempt: number;
}

/** Socket `ai.done`: the answer is complete and stored as `message` (also sent as `chat.message`). */
export interface AiDoneEvent {
	channelId: number;
	replyTo: number;
	message: MessageView;
}

/** Domain event `chat.assistant.replied`, e.g. for notifications. */
export interface AssistantRepliedEvent extends AiDoneEvent {
	requesterId: number;
}

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

export interface ChatMessageEvent {
	message: MessageView;
	channel: { id: number; type: ChannelType };
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

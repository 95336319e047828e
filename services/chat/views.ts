import type { ChannelView, MessageView, ReactionView } from "../../types/chat";
import type { ChannelRow, MessageRow, ReactionRow } from "./tables";

function iso(date: Date | null): string | null {
	return date ? new Date(date).toISOString() : null;
}

/** A channel as clients see it, its name and topic opened; a direct channel names its two people. */
export function channelView(row: ChannelRow, opened: { name: string | null; topic: string | null }, directMemberIds?: number[]): ChannelView {
	const view: ChannelView = {
		id: row.id,
		type: row.type,
		name: opened.name,
		topic: opened.topic,
		createdBy: row.createdBy,
		createdAt: new Date(row.createdAt).toISOString(),
	};
	if (row.type === "direct") view.memberIds = directMemberIds ?? [];
	return view;
}

/** A message as clients see it; `text` is null once it was deleted (the tombstone keeps its place). */
export function messageView(row: MessageRow, text: string | null, mentions: number[], reactions: ReactionView[]): MessageView {
	return {
		id: row.id,
		channelId: row.channelId,
		userId: row.userId,
		parentId: row.parentId,
		text: row.deletedAt ? null : text,
		mentions,
		reactions,
		clientMsgId: row.clientMsgId,
		editedAt: iso(row.editedAt),
		deletedAt: iso(row.deletedAt),
		createdAt: new Date(row.createdAt).toISOString(),
	};
}

/** Reactions of one message, by emoji in the order each emoji was first used. */
export function reactionViews(reactions: ReactionRow[]): ReactionView[] {
	const byEmoji = new Map<string, number[]>();
	for (const reaction of reactions) byEmoji.set(reaction.emoji, [...(byEmoji.get(reaction.emoji) ?? []), reaction.userId]);
	return [...byEmoji].map(([emoji, userIds]) => ({ emoji, count: userIds.length, userIds }));
}

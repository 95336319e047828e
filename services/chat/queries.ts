import { Op, QueryTypes, type Sequelize, type Transaction } from "sequelize";
import type { ChannelType, ChatStats, UnreadView } from "../../types/chat";
import type { ChatTables, MentionRow, ReactionRow } from "./tables";

/**
 * Unread messages (others', not deleted) and mentions after the user's read marker, for every channel the user
 * is in or for one of them: one query whatever the number of channels.
 */
export async function unreadCounts(db: Sequelize, userId: number, channelId?: number): Promise<UnreadView[]> {
	const q = (identifier: string) => db.getQueryInterface().quoteIdentifier(identifier);
	const sql = `SELECT cm.${q("channelId")} AS ${q("channelId")},
		(SELECT COUNT(*) FROM ${q("messages")} m
			WHERE m.${q("channelId")} = cm.${q("channelId")} AND m.${q("id")} > cm.${q("lastReadMessageId")}
			AND m.${q("userId")} <> :userId AND m.${q("deletedAt")} IS NULL) AS ${q("unread")},
		(SELECT COUNT(*) FROM ${q("message_mentions")} mm
			WHERE mm.${q("channelId")} = cm.${q("channelId")} AND mm.${q("userId")} = :userId
			AND mm.${q("messageId")} > cm.${q("lastReadMessageId")}) AS ${q("mentions")}
		FROM ${q("channel_members")} cm
		WHERE cm.${q("userId")} = :userId${channelId === undefined ? "" : ` AND cm.${q("channelId")} = :channelId`}
		ORDER BY cm.${q("channelId")}`;
	const rows = await db.query<{ channelId: number; unread: number | string; mentions: number | string }>(sql, {
		type: QueryTypes.SELECT,
		replacements: { userId, channelId: channelId ?? null },
	});
	return rows.map((row) => ({ channelId: Number(row.channelId), unread: Number(row.unread), mentions: Number(row.mentions) }));
}

/** The people of each direct channel among `channelIds`, in one query. */
export async function directMembers(tables: ChatTables, channelIds: number[]): Promise<Map<number, number[]>> {
	const members = new Map<number, number[]>();
	if (channelIds.length === 0) return members;
	for (const row of await tables.members.findAll({ where: { channelId: { [Op.in]: channelIds } }, attributes: ["channelId", "userId"] })) {
		const { channelId, userId } = row.get({ plain: true });
		members.set(channelId, [...(members.get(channelId) ?? []), userId]);
	}
	return members;
}

/** Mentions and reactions of the given messages, in two queries. */
export async function messageExtras(
	tables: ChatTables,
	messageIds: number[],
	transaction?: Transaction,
): Promise<{ mentions: MentionRow[]; reactions: ReactionRow[] }> {
	if (messageIds.length === 0) return { mentions: [], reactions: [] };
	const where = { messageId: { [Op.in]: messageIds } };
	const [mentions, reactions] = await Promise.all([
		tables.mentions.findAll({ where, transaction }),
		tables.reactions.findAll({ where, order: [["createdAt", "ASC"]], transaction }),
	]);
	return { mentions: mentions.map((row) => row.get({ plain: true })), reactions: reactions.map((row) => row.get({ plain: true })) };
}

const HOUR_MS = 3_600_000;

/** Counts of channels, messages and members as of `now`, for operators; a handful of COUNT queries. */
export async function chatStats(tables: ChatTables, now: number): Promise<ChatStats> {
	const stored = { deletedAt: { [Op.is]: null } };
	const since = (ms: number) => ({ ...stored, createdAt: { [Op.gte]: new Date(now - ms) } });
	const [byType, total, lastHour, lastDay, memberships, people] = await Promise.all([
		tables.channels.count({ group: ["type"] }),
		tables.messages.count({ where: stored }),
		tables.messages.count({ where: since(HOUR_MS) }),
		tables.messages.count({ where: since(24 * HOUR_MS) }),
		tables.members.count(),
		tables.members.count({ distinct: true, col: "userId" }),
	]);
	const channels = { public: 0, private: 0, direct: 0, total: 0 };
	for (const group of byType) {
		const type = group.type as ChannelType;
		if (type in channels) channels[type] = Number(group.count);
		channels.total += Number(group.count);
	}
	return { channels, messages: { total, lastHour, lastDay }, members: { memberships, people } };
}

import type { MessageView, OutboxItem } from "@colony/client";
import type { AssistantStream } from "./liveState";

/** One row of a message list: what the virtualiser lays out. */
export type Row =
	| { kind: "intro"; key: string }
	/** `day`: the first message of a day carries its divider (a divider of its own would move as older messages arrive). */
	| { kind: "message"; key: string; message: MessageView; compact: boolean; replies: number; day: string | null }
	| { kind: "pending"; key: string; item: OutboxItem }
	| { kind: "stream"; key: string; stream: AssistantStream };

const GROUP_WINDOW_MS = 5 * 60_000;

function dayOf(iso: string): string {
	const date = new Date(iso);
	return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;
}

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });

export function dayLabel(iso: string, now = new Date()): string {
	const date = new Date(iso);
	const today = dayOf(now.toISOString());
	const yesterday = new Date(now);
	yesterday.setDate(now.getDate() - 1);
	if (dayOf(iso) === today) return "Today";
	if (dayOf(iso) === dayOf(yesterday.toISOString())) return "Yesterday";
	return dayFormat.format(date);
}

/** How many replies each thread has, among the loaded messages (a thread's replies are newer than it). */
export function replyCounts(messages: readonly MessageView[]): Map<number, number> {
	const counts = new Map<number, number>();
	for (const message of messages) {
		if (message.parentId !== null && !message.deletedAt) counts.set(message.parentId, (counts.get(message.parentId) ?? 0) + 1);
	}
	return counts;
}

export interface RowsInput {
	/** The messages of the list, ascending (the channel's main line, or a thread's replies). */
	messages: readonly MessageView[];
	replies?: Map<number, number>;
	pending?: readonly OutboxItem[];
	streams?: readonly AssistantStream[];
	/** Older messages exist and are not loaded (else the list starts with the channel's introduction). */
	hasOlder: boolean;
	/** Mark the first message of each day (not in a thread, which is short). */
	days?: boolean;
	now?: Date;
}

/** The rows of a list: day dividers, messages (a run of one author's within minutes shown compact), then what is on its way. */
export function buildRows({ messages, replies, pending = [], streams = [], hasOlder, days = true, now = new Date() }: RowsInput): Row[] {
	const rows: Row[] = [];
	if (!hasOlder) rows.push({ kind: "intro", key: "intro" });
	let previous: MessageView | null = null;
	let previousDay = "";
	for (const message of messages) {
		const day = dayOf(message.createdAt);
		const newDay = day !== previousDay;
		if (newDay) {
			previousDay = day;
			previous = null;
		}
		const compact =
			previous !== null &&
			previous.userId === message.userId &&
			!previous.deletedAt &&
			!message.deletedAt &&
			Date.parse(message.createdAt) - Date.parse(previous.createdAt) < GROUP_WINDOW_MS;
		rows.push({ kind: "message", key: `m:${message.id}`, message, compact, replies: replies?.get(message.id) ?? 0, day: days && newDay ? dayLabel(message.createdAt, now) : null });
		previous = message;
	}
	for (const stream of streams) rows.push({ kind: "stream", key: `s:${stream.replyTo}`, stream });
	for (const item of pending) rows.push({ kind: "pending", key: `p:${item.clientMsgId}`, item });
	return rows;
}

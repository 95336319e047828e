import type { AiDeltaEvent, MessageView, OutboxItem } from "@colony/client";
import { useCallback, useEffect, useRef, useState } from "react";
import { useBridgeEvent, useSession } from "../../lib/session";

/** The assistant's answer to one message while it is being written. */
export interface AssistantStream {
	channelId: number;
	/** The message it answers. */
	replyTo: number;
	attempt: number;
	text: string;
}

export type Streams = ReadonlyMap<number, AssistantStream>;

/** Adds a piece of an answer; a higher attempt started over, so what was shown of the earlier one goes. */
export function applyDelta(streams: Streams, event: AiDeltaEvent): Streams {
	const current = streams.get(event.replyTo);
	if (current && event.attempt < current.attempt) return streams;
	const text = current && current.attempt === event.attempt ? current.text + event.delta : event.delta;
	const next = new Map(streams);
	next.set(event.replyTo, { channelId: event.channelId, replyTo: event.replyTo, attempt: event.attempt, text });
	return next;
}

export function endStream(streams: Streams, replyTo: number): Streams {
	if (!streams.has(replyTo)) return streams;
	const next = new Map(streams);
	next.delete(replyTo);
	return next;
}

/** The server stores the assistant's answer to message N with the clientMsgId `ai-reply:N`. */
const ANSWER_KEY = /^ai-reply:(\d+)$/;

/** The stream a stored message of the assistant replaces: the one it answers, else the oldest of its channel. */
export function streamAnsweredBy(streams: Streams, message: MessageView): number | null {
	const key = ANSWER_KEY.exec(message.clientMsgId ?? "");
	if (key && streams.has(Number(key[1]))) return Number(key[1]);
	let oldest: number | null = null;
	for (const stream of streams.values()) {
		if (stream.channelId === message.channelId && (oldest === null || stream.replyTo < oldest)) oldest = stream.replyTo;
	}
	return oldest;
}

/**
 * The assistant's answers being written in a channel (`ai.delta`), each until `ai.done` or the assistant's stored
 * message (`chat.message`) takes its place.
 */
export function useAssistantStreams(channelId: number, isAssistant: (userId: number) => boolean): Streams {
	const [streams, setStreams] = useState<Streams>(() => new Map());
	// An answer that is complete takes no more pieces, even late ones.
	const finished = useRef(new Set<number>());
	const finish = (replyTo: number) => {
		finished.current.add(replyTo);
		setStreams((current) => endStream(current, replyTo));
	};
	useBridgeEvent("ai.delta", (event) => {
		if (event.channelId !== channelId || finished.current.has(event.replyTo)) return;
		setStreams((current) => applyDelta(current, event));
	});
	useBridgeEvent("ai.done", (event) => {
		if (event.channelId === channelId) finish(event.replyTo);
	});
	useBridgeEvent("chat.message", (message) => {
		if (message.channelId !== channelId) return;
		const key = ANSWER_KEY.exec(message.clientMsgId ?? "");
		if (key) finish(Number(key[1]));
		else if (isAssistant(message.userId)) {
			setStreams((current) => {
				const replyTo = streamAnsweredBy(current, message);
				if (replyTo === null) return current;
				finished.current.add(replyTo);
				return endStream(current, replyTo);
			});
		}
	});
	return streams;
}

const TYPING_SHOWN_MS = 6_000;
const TYPING_SEND_EVERY_MS = 3_000;

/** Who else is typing in the channel (from `chat.typing`, each for a few seconds), and a throttled way to say we are. */
export function useTyping(channelId: number, meId: number) {
	const { bridge } = useSession();
	const [typing, setTyping] = useState<ReadonlyMap<number, { username: string; until: number }>>(() => new Map());
	const lastSent = useRef(0);

	useBridgeEvent("chat.typing", (event) => {
		if (event.channelId !== channelId || event.userId === meId) return;
		setTyping((current) => new Map(current).set(event.userId, { username: event.username, until: Date.now() + TYPING_SHOWN_MS }));
	});
	useBridgeEvent("chat.message", (message) => {
		if (message.channelId !== channelId) return;
		setTyping((current) => {
			if (!current.has(message.userId)) return current;
			const next = new Map(current);
			next.delete(message.userId);
			return next;
		});
	});
	useEffect(() => {
		if (typing.size === 0) return;
		const timer = setInterval(() => {
			const now = Date.now();
			setTyping((current) => {
				const next = new Map([...current].filter(([, entry]) => entry.until > now));
				return next.size === current.size ? current : next;
			});
		}, 1_000);
		return () => clearInterval(timer);
	}, [typing.size]);

	const notifyTyping = useCallback(() => {
		const now = Date.now();
		if (!bridge?.connected || now - lastSent.current < TYPING_SEND_EVERY_MS) return;
		lastSent.current = now;
		bridge.typing(channelId).catch(() => {
			// Typing is a courtesy: a failure needs no one's attention.
		});
	}, [bridge, channelId]);

	return { typing, notifyTyping };
}

/** "Ada is typing…", for the names given. */
export function typingSentence(names: string[]): string {
	if (names.length === 0) return "";
	if (names.length === 1) return `${names[0]} is typing…`;
	if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
	return "Several people are typing…";
}

/** Messages of this channel that wait in the bridge's outbox: shown as pending until the server has them. */
export function usePending(channelId: number) {
	const { bridge } = useSession();
	const [pending, setPending] = useState<OutboxItem[]>([]);
	useEffect(() => {
		let cancelled = false;
		bridge
			?.pendingMessages()
			.then((items) => {
				if (cancelled) return;
				const waiting = items.filter((item) => item.channelId === channelId);
				setPending((current) => [...waiting.filter((item) => !current.some((known) => known.clientMsgId === item.clientMsgId)), ...current]);
			})
			.catch(() => {
				// The outbox cannot be read: nothing to show.
			});
		return () => {
			cancelled = true;
		};
	}, [bridge, channelId]);
	const add = useCallback((item: OutboxItem) => setPending((current) => [...current, item]), []);
	const remove = useCallback((clientMsgId: string) => setPending((current) => current.filter((item) => item.clientMsgId !== clientMsgId)), []);
	useBridgeEvent("chat.message", (message) => {
		if (message.channelId === channelId && message.clientMsgId) remove(message.clientMsgId);
	});
	return { pending, add, remove };
}

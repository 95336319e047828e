import type { MessagePage, MessageView } from "@colony/client";
import { useCallback, useEffect, useReducer, useRef } from "react";
import { reasonOf } from "../../lib/errors";
import { api, useBridgeEvent, useSession } from "../../lib/session";

function byId(a: MessageView, b: MessageView): number {
	return a.id - b.id;
}

/** The index of `id` in `messages` (ascending ids), or -1. */
function indexOf(messages: readonly MessageView[], id: number): number {
	let low = 0;
	let high = messages.length - 1;
	while (low <= high) {
		const middle = (low + high) >> 1;
		const found = messages[middle].id;
		if (found === id) return middle;
		if (found < id) low = middle + 1;
		else high = middle - 1;
	}
	return -1;
}

/**
 * `existing` (ascending ids, each once) with `incoming` merged in, still ascending and each id once. A message
 * already there is replaced when `preferIncoming` (a live update, an answer of the server) and kept otherwise (an
 * older page, which may be staler than what the socket said since). The common cases, a page of older messages
 * and a new message at the end, do not re-sort.
 */
export function mergeMessages(existing: readonly MessageView[], incoming: readonly MessageView[], preferIncoming: boolean): MessageView[] {
	if (incoming.length === 0) return existing as MessageView[];
	const sorted = [...incoming].sort(byId);
	const unique = sorted.filter((message, index) => index === sorted.length - 1 || sorted[index + 1].id !== message.id);
	if (existing.length === 0) return unique;
	if (unique[0].id > existing[existing.length - 1].id) return [...existing, ...unique];
	if (unique[unique.length - 1].id < existing[0].id) return [...unique, ...existing];
	let next: MessageView[] | null = null;
	const added: MessageView[] = [];
	for (const message of unique) {
		const at = indexOf(existing, message.id);
		if (at === -1) added.push(message);
		else if (preferIncoming && existing[at] !== message) {
			next ??= [...existing];
			next[at] = message;
		}
	}
	if (added.length === 0) return next ?? (existing as MessageView[]);
	return [...(next ?? existing), ...added].sort(byId);
}

export interface MessagesState {
	/** Every loaded message of the channel, replies included, ascending by id. */
	messages: MessageView[];
	/** The `before` of the next older page; null once the first message of the channel is loaded. */
	olderCursor: string | null;
	status: "loading" | "ready" | "error";
	error: string | null;
	loadingOlder: boolean;
	olderError: string | null;
}

type Action =
	| { type: "loaded"; page: MessagePage }
	| { type: "failed"; error: string }
	| { type: "olderStarted" }
	| { type: "older"; page: MessagePage }
	| { type: "olderFailed"; error: string }
	| { type: "upsert"; messages: MessageView[] }
	| { type: "fill"; messages: MessageView[] };

const initialState: MessagesState = { messages: [], olderCursor: null, status: "loading", error: null, loadingOlder: false, olderError: null };

export function messagesReducer(state: MessagesState, action: Action): MessagesState {
	switch (action.type) {
		case "loaded":
			return { ...state, status: "ready", error: null, messages: mergeMessages(state.messages, action.page.items, false), olderCursor: action.page.nextCursor };
		case "failed":
			return { ...state, status: "error", error: action.error };
		case "olderStarted":
			return { ...state, loadingOlder: true, olderError: null };
		case "older":
			return { ...state, loadingOlder: false, messages: mergeMessages(state.messages, action.page.items, false), olderCursor: action.page.nextCursor };
		case "olderFailed":
			return { ...state, loadingOlder: false, olderError: action.error };
		case "upsert": {
			const messages = mergeMessages(state.messages, action.messages, true);
			return messages === state.messages ? state : { ...state, messages };
		}
		case "fill": {
			const messages = mergeMessages(state.messages, action.messages, false);
			return messages === state.messages ? state : { ...state, messages };
		}
	}
}

export const PAGE_SIZE = 50;

/**
 * A channel's messages: the newest page, older pages on demand, and what the socket says (new, edited, deleted
 * messages and reactions). Mount it once per channel (give the screen a `key`).
 */
export function useChannelMessages(channelId: number, pageSize = PAGE_SIZE) {
	const { bridge } = useSession();
	const [state, dispatch] = useReducer(messagesReducer, initialState);
	const current = useRef(state);
	current.current = state;
	const olderInFlight = useRef(false);

	const loadNewest = useCallback(
		async (refresh: boolean) => {
			try {
				const page = await api.history(channelId, { limit: pageSize });
				if (refresh) dispatch({ type: "upsert", messages: page.items });
				else dispatch({ type: "loaded", page });
				// A reconnection catches up from here on.
				const newest = page.items[0];
				if (newest) bridge?.watchChannel(channelId, newest.id);
			} catch (err) {
				if (!refresh) dispatch({ type: "failed", error: reasonOf(err) });
			}
		},
		[bridge, channelId, pageSize],
	);

	useEffect(() => {
		void loadNewest(false);
	}, [loadNewest]);

	const loadOlder = useCallback(async () => {
		const { status, olderCursor } = current.current;
		if (status !== "ready" || olderCursor === null || olderInFlight.current) return;
		olderInFlight.current = true;
		dispatch({ type: "olderStarted" });
		try {
			dispatch({ type: "older", page: await api.history(channelId, { before: olderCursor, limit: pageSize }) });
		} catch (err) {
			dispatch({ type: "olderFailed", error: reasonOf(err) });
		} finally {
			olderInFlight.current = false;
		}
	}, [channelId, pageSize]);

	const live = (message: MessageView) => {
		if (message.channelId === channelId) dispatch({ type: "upsert", messages: [message] });
	};
	useBridgeEvent("chat.message", live);
	useBridgeEvent("chat.message.updated", live);
	useBridgeEvent("chat.message.deleted", live);
	// The catch-up brings missed messages, not missed edits, deletions and reactions: the newest page does.
	useBridgeEvent("connected", ({ reconnect }) => {
		if (reconnect && current.current.status === "ready") void loadNewest(true);
	});

	const upsert = useCallback((messages: MessageView[]) => dispatch({ type: "upsert", messages }), []);
	const fill = useCallback((messages: MessageView[]) => dispatch({ type: "fill", messages }), []);
	const retry = useCallback(() => void loadNewest(false), [loadNewest]);

	return { ...state, loadOlder, upsert, fill, retry };
}

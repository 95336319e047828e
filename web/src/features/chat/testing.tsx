/**
 * Test doubles for the chat's component tests: a bridge whose events the test emits, a mocked REST client, and a
 * layout for jsdom (which has none), so the virtualised list has a viewport and rows of a height. Only tests
 * import this file.
 */
import type { BridgeEventName, BridgeEvents, ChannelListItem, MessageView, OutboxItem, OutgoingMessage, PublicUser, SendResult } from "@colony/client";
import { act } from "@testing-library/react";
import { useEffect, useRef, type ReactNode } from "react";
import { vi } from "vitest";

// jsdom has no font loading, which Mantine's autosizing Textarea listens to.
if (!("fonts" in document)) {
	Object.defineProperty(document, "fonts", { configurable: true, value: { addEventListener() {}, removeEventListener() {} } });
}

export class FakeBridge {
	connected = true;
	outbox: OutboxItem[] = [];
	private readonly listeners = new Map<string, Set<(payload: never) => void>>();
	readonly sendMessage = vi.fn(async (message: OutgoingMessage): Promise<SendResult> => ({ status: "queued", clientMsgId: message.clientMsgId ?? "x" }));
	readonly typing = vi.fn(async () => ({ ok: true }));
	readonly pendingMessages = vi.fn(async () => this.outbox);
	readonly watchChannel = vi.fn();

	on<E extends BridgeEventName>(event: E, listener: (payload: BridgeEvents[E]) => void): () => void {
		const set = this.listeners.get(event) ?? new Set();
		set.add(listener as (payload: never) => void);
		this.listeners.set(event, set);
		return () => set.delete(listener as (payload: never) => void);
	}

	/** Delivers a server event, as the socket would. */
	emit<E extends BridgeEventName>(event: E, payload: BridgeEvents[E]): void {
		act(() => {
			for (const listener of [...(this.listeners.get(event) ?? [])]) (listener as (payload: BridgeEvents[E]) => void)(payload);
		});
	}
}

export const me: PublicUser = { id: 1, username: "ada", displayName: "Ada Lovelace", roles: ["member"], createdAt: "2024-01-01T00:00:00.000Z" };
export const people: PublicUser[] = [
	me,
	{ id: 2, username: "bob", displayName: "Bob Builder", roles: ["member"], createdAt: "2024-01-01T00:00:00.000Z" },
	{ id: 3, username: "adam", displayName: "Adam Smith", roles: ["member"], createdAt: "2024-01-01T00:00:00.000Z" },
	{ id: 9, username: "ai", displayName: "Colony AI", roles: ["member"], createdAt: "2024-01-01T00:00:00.000Z", assistant: true },
];

export const general: ChannelListItem = { id: 5, type: "public", name: "general", topic: "Everything", createdBy: 2, createdAt: "2024-01-01T00:00:00.000Z", member: true };

/** A message of `general` with id `id`, one a minute, by Bob or Ada in turn. */
export function message(id: number, changes: Partial<MessageView> = {}): MessageView {
	return {
		id,
		channelId: general.id,
		userId: id % 2 === 0 ? 2 : 1,
		parentId: null,
		text: `message ${id}`,
		mentions: [],
		reactions: [],
		clientMsgId: null,
		editedAt: null,
		deletedAt: null,
		createdAt: new Date(Date.UTC(2024, 0, 1) + id * 60_000).toISOString(),
		...changes,
	};
}

/** Messages `from`..`to`, newest first, as the history route answers. */
export function newestFirst(from: number, to: number): MessageView[] {
	const items: MessageView[] = [];
	for (let id = to; id >= from; id--) items.push(message(id));
	return items;
}

export const state = { bridge: new FakeBridge() };

export const api = {
	listChannels: vi.fn(async (): Promise<ChannelListItem[]> => [general]),
	unread: vi.fn(async () => [{ channelId: general.id, unread: 0, mentions: 0 }]),
	history: vi.fn(async (_channelId: number, _query?: unknown) => ({ items: [] as MessageView[], nextCursor: null as string | null })),
	markRead: vi.fn(async (channelId: number) => [{ channelId, unread: 0, mentions: 0 }]),
	react: vi.fn(),
	editMessage: vi.fn(),
	deleteMessage: vi.fn(),
	joinChannel: vi.fn(),
	createChannel: vi.fn(),
	openDirect: vi.fn(),
	sendMessage: vi.fn(),
	request: vi.fn(async (_method: string, path: string, options?: { query?: Record<string, unknown> }): Promise<unknown> => {
		if (path === "/users") return { items: people, nextCursor: null };
		if (path === "/presence") return { items: String(options?.query?.ids ?? "").split(",").map((id) => ({ userId: Number(id), status: "online" })) };
		throw new Error(`unexpected ${path}`);
	}),
};

/** What `vi.mock("../../lib/session")` gives the chat. */
export const sessionModule = {
	api,
	useMe: () => me,
	useSession: () => ({ user: me, bridge: state.bridge, endedBecause: null, signIn: vi.fn(), signUp: vi.fn(), signOut: vi.fn() }),
	useBridgeEvent<E extends BridgeEventName>(event: E, listener: (payload: BridgeEvents[E]) => void) {
		const latest = useRef(listener);
		latest.current = listener;
		useEffect(() => state.bridge.on(event, (payload) => latest.current(payload)), [event]);
	},
	SessionProvider: ({ children }: { children: ReactNode }) => children,
};

/**
 * Gives jsdom a layout: message lists are `viewport` pixels tall, each virtual row `row` pixels, and scrolling
 * moves `scrollTop` (clamped) and then fires `scroll`. Returns the undo.
 */
export function fakeLayout({ viewport = 600, row = 48 } = {}): () => void {
	const proto = HTMLElement.prototype;
	const saved = ["clientHeight", "offsetHeight", "scrollHeight"].map((name) => [name, Object.getOwnPropertyDescriptor(proto, name)] as const);
	const isList = (element: Element) => element.getAttribute("role") === "log";
	const contentHeight = (element: Element) => parseFloat((element.firstElementChild as HTMLElement | null)?.style.height ?? "") || 0;
	Object.defineProperty(proto, "clientHeight", { configurable: true, get: function (this: HTMLElement) { return isList(this) ? viewport : 0; } });
	Object.defineProperty(proto, "offsetHeight", { configurable: true, get: function (this: HTMLElement) { return this.hasAttribute("data-index") ? row : 0; } });
	Object.defineProperty(proto, "scrollHeight", { configurable: true, get: function (this: HTMLElement) { return isList(this) ? Math.max(contentHeight(this), viewport) : 0; } });
	const savedScrollTo = Element.prototype.scrollTo;
	Element.prototype.scrollTo = function (this: Element, options?: ScrollToOptions | number) {
		const top = typeof options === "number" ? 0 : (options?.top ?? 0);
		const max = Math.max(0, this.scrollHeight - this.clientHeight);
		const next = Math.min(max, Math.max(0, top));
		if (next === this.scrollTop) return;
		this.scrollTop = next;
		// As in browsers: the scroll event comes after, not inside, the call.
		setTimeout(() => this.dispatchEvent(new Event("scroll")));
	} as Element["scrollTo"];
	return () => {
		for (const [name, descriptor] of saved) {
			if (descriptor) Object.defineProperty(proto, name, descriptor);
			else delete (proto as unknown as Record<string, unknown>)[name];
		}
		Element.prototype.scrollTo = savedScrollTo;
	};
}

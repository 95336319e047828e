import { io, type ManagerOptions, type Socket } from "socket.io-client";
import type { AiDeltaEvent, AiDoneEvent, ChatTypingEvent, MessageView } from "../types/chat";
import { MAX_MESSAGE_LENGTH, type PresenceStatus } from "../types/contract";
import type { NotificationView } from "../types/notifications";
import { ColonyApiError, type ErrorBody } from "./errors";
import { Outbox, type OutboxItem } from "./outbox";
import { MemoryOutboxStorage, type OutboxStorage } from "./storage";

export interface OutgoingMessage {
	channelId: number;
	text: string;
	/** The thread this message replies in. */
	parentId?: number;
	/** Makes the send idempotent: the server stores one message per user and clientMsgId. */
	clientMsgId?: string;
}

/** `sent`: the server stored it. `queued`: it waits in the outbox and goes out when the connection allows. */
export type SendResult =
	| { status: "sent"; clientMsgId: string; message: MessageView }
	| { status: "queued"; clientMsgId: string };

export interface TokenRequest {
	/** Set when the server refused the previous token (on connect, or a call answered `TOKEN_EXPIRED`). */
	refused?: { error: ColonyApiError; token: string };
}

/** Gives the token for each (re)connection; `ColonyRestClient.tokenProvider()` is one. */
export type AccessTokenProvider = (request: TokenRequest) => string | Promise<string>;

export type { PresenceStatus };

/** What `on()` offers: the server's events (DESIGN §5) and the bridge's own. */
export interface BridgeEvents {
	/** New messages, each id once, ascending per channel after a catch-up. Same stream as `onMessage`. */
	"chat.message": MessageView;
	"chat.message.updated": MessageView;
	"chat.message.deleted": MessageView;
	"chat.typing": ChatTypingEvent;
	/** The assistant's answer as it is written; a higher `attempt` means it started over: drop what was shown. */
	"ai.delta": AiDeltaEvent;
	/** The assistant's answer is complete; its message also arrives as `chat.message`. */
	"ai.done": AiDoneEvent;
	presence: { userId: number; status: PresenceStatus };
	/** A notification for the signed-in user (mention, assignment, …), as it is stored. */
	notification: NotificationView;
	/** The server ended this session (sign-out, revoked); the bridge does not reconnect. */
	"session.ended": { type?: string; reason: string };
	connected: { reconnect: boolean };
	disconnected: { reason: string; willReconnect: boolean };
	/** A refused connection, an unavailable token, a failed catch-up or outbox storage: for the app to show or log. */
	error: ColonyApiError;
	/** The server refused a queued message for good (not a member, invalid…); it left the outbox. */
	"outbox.rejected": { item: OutboxItem; error: ColonyApiError };
	/** Catch-up stopped at its page limit: messages of the channel between the two ids were not delivered. */
	"catchup.gap": { channelId: number; afterId: number; beforeId: number };
}

export type BridgeEventName = keyof BridgeEvents;

export interface WebSocketBridgeOptions {
	outboxStorage?: OutboxStorage;
	/** The storage key of the outbox; give each signed-in user their own. */
	outboxKey?: string;
	/** How long a `call` waits for its acknowledgement; default 10 s. */
	ackTimeoutMs?: number;
	/** Reconnection backoff, as socket.io's own options; defaults 1 s, 30 s, 0.5. */
	reconnectionDelay?: number;
	reconnectionDelayMax?: number;
	randomizationFactor?: number;
	transports?: ManagerOptions["transports"];
	path?: string;
	/** Messages per `chat.history` page during catch-up (at most 100), and pages per channel; defaults 100, 10. */
	catchUpPageSize?: number;
	catchUpMaxPages?: number;
	/** How many delivered message ids are remembered to refuse duplicates; default 5000. */
	dedupeWindow?: number;
}

type Listener<E extends BridgeEventName> = (payload: BridgeEvents[E]) => void;

interface Waiter {
	resolve(result: SendResult): void;
	reject(error: ColonyApiError): void;
}

interface MessagePage {
	items: MessageView[];
	nextCursor: string | null;
}

export { MAX_MESSAGE_LENGTH };

// Worth retrying later: the message itself is fine, the connection, the session or the platform is not.
const TRANSIENT_TYPES = new Set([
	"OFFLINE",
	"TIMEOUT",
	"DISCONNECTED",
	"TOKEN_EXPIRED",
	"THROTTLED",
	"RATE_LIMITED",
	"SERVICE_NOT_FOUND",
	"SERVICE_NOT_AVAILABLE",
	"SERVICE_UNAVAILABLE",
	"REQUEST_TIMEOUT",
]);

function isTransient(error: ColonyApiError): boolean {
	return TRANSIENT_TYPES.has(error.type) || error.status === 0 || error.status === 401 || error.status === 429 || error.status >= 500;
}

function asApiError(err: unknown, type = "CLIENT_ERROR"): ColonyApiError {
	if (err instanceof ColonyApiError) return err;
	return new ColonyApiError(0, type, err instanceof Error ? err.message : String(err));
}

/** socket.io's backoff: base × 2^attempt, spread by ± factor, capped. */
function backoffDelay(attempt: number, base: number, max: number, factor: number): number {
	const delay = base * 2 ** Math.min(attempt, 30);
	const deviation = delay * factor * (Math.random() * 2 - 1);
	return Math.max(0, Math.min(max, Math.round(delay + deviation)));
}

function newClientMsgId(): string {
	const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
	if (crypto?.randomUUID) return crypto.randomUUID();
	// React Native has no randomUUID without a polyfill; uniqueness per user is all the server needs.
	return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}

/** Message ids already delivered, forgetting the smallest beyond a bound; anything at or below what it forgot is refused. */
class DeliveredIds {
	private readonly ids = new Set<number>();
	private floor = 0;

	constructor(private readonly capacity: number) {}

	/** False when the id was delivered before (or is too old to tell). */
	add(id: number): boolean {
		if (id <= this.floor || this.ids.has(id)) return false;
		this.ids.add(id);
		if (this.ids.size > this.capacity) {
			// Forget a tenth at once, so the sort is paid rarely.
			const sorted = [...this.ids].sort((a, b) => a - b);
			const forgotten = sorted.slice(0, Math.max(1, Math.floor(this.capacity / 10)));
			for (const old of forgotten) this.ids.delete(old);
			this.floor = forgotten[forgotten.length - 1];
		}
		return true;
	}
}

/**
 * The socket connection of a Colony client (DESIGN §5) over socket.io: reconnects with backoff and a fresh token,
 * keeps unacknowledged messages in an outbox that survives restarts and sends them in order once the server is
 * reachable (each exactly once, by `clientMsgId`), and after a reconnection fetches what was missed in the channels
 * it has seen, so `onMessage` sees every message once, in order.
 */
export class WebSocketBridge {
	private readonly outbox: Outbox;
	private readonly ackTimeoutMs: number;
	private readonly reconnectionDelay: number;
	private readonly reconnectionDelayMax: number;
	private readonly randomizationFactor: number;
	private readonly pageSize: number;
	private readonly maxPages: number;
	private readonly listeners = new Map<BridgeEventName, Set<(payload: never) => void>>();

	private socket: Socket | null = null;
	private tokenSource: AccessTokenProvider = () => "";
	private renewableToken = false;
	private lastToken = "";
	private refused: TokenRequest["refused"];
	private stopped = true;
	private everConnected = false;
	/** Counts connections, so work begun for one connection stops when it is gone. */
	private generation = 0;
	private reconnectAttempts = 0;
	private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
	private settleConnect: ((connected: boolean) => void) | null = null;

	private readonly waiters = new Map<string, Waiter>();
	private flushing: Promise<void> | null = null;
	private flushAgain = false;
	private flushFailures = 0;
	private flushTimer: ReturnType<typeof setTimeout> | undefined;

	/** Last delivered message id per channel: where catch-up starts. */
	private readonly watermarks = new Map<number, number>();
	private readonly delivered: DeliveredIds;
	/** True from a disconnection until catch-up is done: live messages wait here, to be delivered in order after it. */
	private catchingUp = true;
	private held: MessageView[] = [];

	constructor(private readonly options: WebSocketBridgeOptions = {}) {
		this.outbox = new Outbox(options.outboxStorage ?? new MemoryOutboxStorage(), options.outboxKey ?? "colony.outbox");
		this.ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
		this.reconnectionDelay = options.reconnectionDelay ?? 1_000;
		this.reconnectionDelayMax = options.reconnectionDelayMax ?? 30_000;
		this.randomizationFactor = options.randomizationFactor ?? 0.5;
		this.pageSize = Math.min(100, options.catchUpPageSize ?? 100);
		this.maxPages = options.catchUpMaxPages ?? 10;
		this.delivered = new DeliveredIds(options.dedupeWindow ?? 5_000);
	}

	get connected(): boolean {
		return this.socket?.connected ?? false;
	}

	/**
	 * Connects to the gateway at `url` (the server's origin). Resolves true once connected, false when the first
	 * attempt fails; it keeps trying in the background unless the server refused the token for good.
	 * Pass a token provider rather than a token so reconnections after expiry get a fresh one.
	 */
	connect(url: string, token: string | AccessTokenProvider): Promise<boolean> {
		this.dropSocket();
		this.stopped = false;
		this.refused = undefined;
		this.reconnectAttempts = 0;
		this.tokenSource = typeof token === "string" ? () => token : token;
		this.renewableToken = typeof token !== "string";
		const socket = io(url, {
			forceNew: true,
			autoConnect: false,
			path: this.options.path,
			transports: this.options.transports,
			reconnection: true,
			reconnectionDelay: this.reconnectionDelay,
			reconnectionDelayMax: this.reconnectionDelayMax,
			randomizationFactor: this.randomizationFactor,
			// A function, so every reconnection asks for the token anew.
			auth: (send) => this.authenticate(send),
		});
		this.socket = socket;
		this.listen(socket);
		const outcome = new Promise<boolean>((resolve) => {
			this.settleConnect = resolve;
		});
		socket.connect();
		return outcome;
	}

	/** Closes the connection for good (until `connect` again); queued messages stay in the outbox. */
	disconnect(): void {
		this.stop();
	}

	/**
	 * Sends a message, or queues it when offline. It leaves the outbox only once the server acknowledged it, so a
	 * lost acknowledgement means a resend, which the server recognises by `clientMsgId` (assigned here if absent).
	 * Rejects when the server refuses the message itself (e.g. `NOT_A_MEMBER`).
	 */
	async sendMessage(message: OutgoingMessage): Promise<SendResult> {
		const text = message.text.trim();
		if (text.length === 0 || text.length > MAX_MESSAGE_LENGTH) {
			throw new ColonyApiError(422, "VALIDATION_ERROR", `A message has 1 to ${MAX_MESSAGE_LENGTH} characters`);
		}
		const item: OutboxItem = {
			clientMsgId: message.clientMsgId ?? newClientMsgId(),
			channelId: message.channelId,
			text,
			queuedAt: new Date().toISOString(),
		};
		if (message.parentId !== undefined) item.parentId = message.parentId;
		await this.outbox.add(item);
		if (!this.connected) return { status: "queued", clientMsgId: item.clientMsgId };
		const result = new Promise<SendResult>((resolve, reject) => this.waiters.set(item.clientMsgId, { resolve, reject }));
		void this.flushOutbox();
		return result;
	}

	/** New messages; the returned function unsubscribes. */
	onMessage(callback: (message: MessageView) => void): () => void {
		return this.on("chat.message", callback);
	}

	on<E extends BridgeEventName>(event: E, listener: Listener<E>): () => void {
		const set = this.listeners.get(event) ?? new Set();
		set.add(listener as (payload: never) => void);
		this.listeners.set(event, set);
		return () => {
			set.delete(listener as (payload: never) => void);
		};
	}

	/** Includes a channel in catch-up, e.g. one whose history the app loaded over REST up to `lastMessageId`. */
	watchChannel(channelId: number, lastMessageId: number): void {
		if (lastMessageId > (this.watermarks.get(channelId) ?? 0)) this.watermarks.set(channelId, lastMessageId);
	}

	/** Messages not yet acknowledged, oldest first (to show as pending). */
	pendingMessages(): Promise<OutboxItem[]> {
		return this.outbox.items();
	}

	typing(channelId: number): Promise<{ ok: boolean }> {
		return this.call("chat.typing", { channelId });
	}

	/** Any action the gateway lets sockets call (`chat.markRead`, `chat.react`…). */
	call<T>(action: string, params: object): Promise<T> {
		const socket = this.socket;
		if (!socket?.connected) return Promise.reject(new ColonyApiError(0, "OFFLINE", "Not connected"));
		const token = this.lastToken;
		return new Promise<T>((resolve, reject) => {
			socket.timeout(this.ackTimeoutMs).emit("call", action, params, (failure: Error | null, err: ErrorBody | null, result: T) => {
				if (failure) {
					const timedOut = failure.message.includes("timed out");
					reject(new ColonyApiError(0, timedOut ? "TIMEOUT" : "DISCONNECTED", `${action}: ${failure.message}`));
				} else if (err) {
					const error = ColonyApiError.fromBody(err);
					// The server drops the connection next; the reconnection must bring a fresh token.
					if (error.type === "TOKEN_EXPIRED") this.refused = { error, token };
					reject(error);
				} else {
					resolve(result);
				}
			});
		});
	}

	private listen(socket: Socket): void {
		socket.on("connect", () => this.onConnect());
		socket.on("disconnect", (reason: string) => this.onDisconnect(socket, reason));
		socket.on("connect_error", (err: Error) => this.onConnectError(socket, err));
		socket.on("chat.message", (message: MessageView) => this.receive(message));
		socket.on("chat.message.updated", (message: MessageView) => this.emit("chat.message.updated", message));
		socket.on("chat.message.deleted", (message: MessageView) => this.emit("chat.message.deleted", message));
		socket.on("chat.typing", (typing: ChatTypingEvent) => this.emit("chat.typing", typing));
		socket.on("ai.delta", (delta: AiDeltaEvent) => this.emit("ai.delta", delta));
		socket.on("ai.done", (done: AiDoneEvent) => this.emit("ai.done", done));
		socket.on("presence", (presence: BridgeEvents["presence"]) => this.emit("presence", presence));
		socket.on("notification", (notification: NotificationView) => this.emit("notification", notification));
		socket.on("session.expiring", () => void this.renewToken(socket));
		socket.on("session.ended", (ended: BridgeEvents["session.ended"]) => {
			if (ended.type === "TOKEN_EXPIRED" && this.renewableToken) {
				// Only the token ended, not the session: the reconnection that follows brings a fresh one.
				this.refused = { error: new ColonyApiError(401, "TOKEN_EXPIRED", ended.reason), token: this.lastToken };
				return;
			}
			// The server disconnects right after: that must not be answered with a reconnection.
			this.stopped = true;
			this.emit("session.ended", ended);
		});
	}

	/**
	 * The server says the socket's token expires soon: a fresh one goes over the open socket (`auth.refresh`), so
	 * the connection lives on. If that fails the server drops the socket at expiry and the reconnection renews it.
	 */
	private async renewToken(socket: Socket): Promise<void> {
		if (!this.renewableToken) return;
		try {
			const expiring = new ColonyApiError(401, "TOKEN_EXPIRING", "The socket's access token expires soon");
			const token = await this.tokenSource({ refused: { error: expiring, token: this.lastToken } });
			if (token === this.lastToken || socket !== this.socket || !socket.connected) return;
			await new Promise<void>((resolve, reject) => {
				socket.timeout(this.ackTimeoutMs).emit("auth.refresh", token, (failure: Error | null, err: ErrorBody | null) => {
					if (failure) reject(new ColonyApiError(0, "TIMEOUT", `auth.refresh: ${failure.message}`));
					else if (err) reject(ColonyApiError.fromBody(err));
					else resolve();
				});
			});
			this.lastToken = token;
		} catch (err) {
			this.emit("error", asApiError(err, "TOKEN_UNAVAILABLE"));
		}
	}

	private authenticate(send: (data: object) => void): void {
		const request: TokenRequest = { refused: this.refused };
		Promise.resolve()
			.then(() => this.tokenSource(request))
			.then(
				(token) => {
					this.lastToken = token;
					send({ token });
				},
				(err: unknown) => this.onTokenUnavailable(asApiError(err, "TOKEN_UNAVAILABLE")),
			);
	}

	private onConnect(): void {
		this.generation += 1;
		this.reconnectAttempts = 0;
		this.flushFailures = 0;
		this.refused = undefined;
		const reconnect = this.everConnected;
		this.everConnected = true;
		this.settleConnect?.(true);
		this.settleConnect = null;
		this.emit("connected", { reconnect });
		void this.catchUp(this.generation);
		void this.flushOutbox();
	}

	private onDisconnect(socket: Socket, reason: string): void {
		this.catchingUp = true;
		this.settleWaitersAsQueued();
		clearTimeout(this.flushTimer);
		// socket.io reconnects by itself after transport failures, not after the server closed the socket.
		if (!socket.active && !this.stopped) this.scheduleReconnect();
		this.emit("disconnected", { reason, willReconnect: !this.stopped });
	}

	private onConnectError(socket: Socket, err: Error): void {
		const data = (err as Error & { data?: { type?: string; code?: number } }).data;
		const error = data?.type
			? new ColonyApiError(data.code ?? 401, data.type, err.message, data)
			: new ColonyApiError(0, "CONNECT_FAILED", err.message);
		this.settleConnect?.(false);
		this.settleConnect = null;
		this.emit("error", error);
		if (socket.active) return;
		if (error.status === 401) {
			// A fixed token, or a token refused twice, will only be refused again.
			if (!this.renewableToken || this.refused?.token === this.lastToken) {
				this.stop();
				return;
			}
			this.refused = { error, token: this.lastToken };
		}
		this.scheduleReconnect();
	}

	private onTokenUnavailable(error: ColonyApiError): void {
		this.settleConnect?.(false);
		this.settleConnect = null;
		this.emit("error", error);
		// Abandons this attempt: without a token it cannot authenticate.
		this.socket?.disconnect();
		// The session is over (e.g. the refresh token was refused); anything else may pass.
		if (error.status === 401) this.stop();
		else this.scheduleReconnect();
	}

	private scheduleReconnect(): void {
		if (this.stopped || this.reconnectTimer || !this.socket) return;
		const delay = backoffDelay(this.reconnectAttempts++, this.reconnectionDelay, this.reconnectionDelayMax, this.randomizationFactor);
		this.reconnectTimer = setTimeout(() => {
			this.reconnectTimer = undefined;
			if (!this.stopped) this.socket?.connect();
		}, delay);
	}

	private stop(): void {
		this.stopped = true;
		clearTimeout(this.reconnectTimer);
		this.reconnectTimer = undefined;
		clearTimeout(this.flushTimer);
		this.settleConnect?.(false);
		this.settleConnect = null;
		this.socket?.disconnect();
		this.settleWaitersAsQueued();
	}

	private dropSocket(): void {
		const socket = this.socket;
		if (!socket) return;
		this.stop();
		socket.removeAllListeners();
		this.socket = null;
	}

	private receive(message: MessageView): void {
		if (this.catchingUp) this.held.push(message);
		else this.deliver(message);
	}

	private deliver(message: MessageView): void {
		if (!this.delivered.add(message.id)) return;
		if (message.id > (this.watermarks.get(message.channelId) ?? 0)) this.watermarks.set(message.channelId, message.id);
		// Catch-up finds messages deleted while offline as tombstones: they were never seen, so they are not news.
		if (message.deletedAt) return;
		this.emit("chat.message", message);
	}

	private async catchUp(generation: number): Promise<void> {
		let attempt = 0;
		while (generation === this.generation && this.connected) {
			try {
				const missed: MessageView[] = [];
				for (const [channelId, afterId] of [...this.watermarks]) {
					missed.push(...(await this.missedSince(channelId, afterId)));
				}
				if (generation !== this.generation) return;
				// Ids grow with time across channels: ascending id is the order they were sent in.
				const ordered = [...missed, ...this.held].sort((a, b) => a.id - b.id);
				this.held = [];
				this.catchingUp = false;
				for (const message of ordered) this.deliver(message);
				return;
			} catch (err) {
				if (generation !== this.generation || !this.connected) return;
				this.emit("error", asApiError(err));
				await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt++, this.reconnectionDelay, this.reconnectionDelayMax, this.randomizationFactor)));
			}
		}
	}

	/** `chat.history` pages newest first: walk back until the page reaches what was already delivered. */
	private async missedSince(channelId: number, afterId: number): Promise<MessageView[]> {
		const missed: MessageView[] = [];
		let before: number | undefined;
		for (let page = 0; page < this.maxPages; page++) {
			let answer: MessagePage;
			try {
				answer = await this.call<MessagePage>("chat.history", { channelId, limit: this.pageSize, ...(before ? { before } : {}) });
			} catch (err) {
				const error = asApiError(err);
				// The channel is gone or closed to this user: nothing to catch up there any more.
				if (!isTransient(error) && (error.status === 403 || error.status === 404)) {
					this.watermarks.delete(channelId);
					return [];
				}
				throw error;
			}
			missed.push(...answer.items.filter((message) => message.id > afterId));
			const oldest = answer.items.at(-1);
			if (!answer.nextCursor || !oldest || oldest.id <= afterId) return missed;
			before = Number(answer.nextCursor);
		}
		const oldestFetched = missed.at(-1);
		if (oldestFetched) this.emit("catchup.gap", { channelId, afterId, beforeId: oldestFetched.id });
		return missed;
	}

	private flushOutbox(): Promise<void> {
		if (this.flushing) {
			this.flushAgain = true;
			return this.flushing;
		}
		this.flushing = (async () => {
			try {
				do {
					this.flushAgain = false;
					await this.drain();
				} while (this.flushAgain && this.connected);
			} catch (err) {
				this.settleWaitersAsQueued();
				this.emit("error", asApiError(err, "STORAGE_ERROR"));
			} finally {
				this.flushing = null;
			}
		})();
		return this.flushing;
	}

	/** Sends the outbox in order, one acknowledged message at a time. */
	private async drain(): Promise<void> {
		for (;;) {
			if (!this.connected) {
				this.settleWaitersAsQueued();
				return;
			}
			const [item] = await this.outbox.items();
			if (!item) return;
			const params: OutgoingMessage = { channelId: item.channelId, text: item.text, clientMsgId: item.clientMsgId };
			if (item.parentId !== undefined) params.parentId = item.parentId;
			let message: MessageView;
			try {
				message = (await this.call<{ message: MessageView }>("chat.send", params)).message;
			} catch (err) {
				const error = asApiError(err);
				if (isTransient(error)) {
					this.settleWaitersAsQueued();
					this.retryFlushLater();
					return;
				}
				await this.outbox.remove(item.clientMsgId);
				this.waiters.get(item.clientMsgId)?.reject(error);
				this.waiters.delete(item.clientMsgId);
				this.emit("outbox.rejected", { item, error });
				continue;
			}
			await this.outbox.remove(item.clientMsgId);
			this.flushFailures = 0;
			// The sender sees its message even if the push to its own socket is lost.
			this.receive(message);
			this.waiters.get(item.clientMsgId)?.resolve({ status: "sent", clientMsgId: item.clientMsgId, message });
			this.waiters.delete(item.clientMsgId);
		}
	}

	private retryFlushLater(): void {
		clearTimeout(this.flushTimer);
		const delay = backoffDelay(this.flushFailures++, this.reconnectionDelay, this.reconnectionDelayMax, this.randomizationFactor);
		this.flushTimer = setTimeout(() => {
			if (this.connected) void this.flushOutbox();
		}, delay);
	}

	private settleWaitersAsQueued(): void {
		for (const [clientMsgId, waiter] of this.waiters) waiter.resolve({ status: "queued", clientMsgId });
		this.waiters.clear();
	}

	private emit<E extends BridgeEventName>(event: E, payload: BridgeEvents[E]): void {
		for (const listener of [...(this.listeners.get(event) ?? [])]) {
			try {
				(listener as Listener<E>)(payload);
			} catch (err) {
				// A failing listener must not break delivery to the others, nor stay silent.
				setTimeout(() => {
					throw err;
				});
			}
		}
	}
}

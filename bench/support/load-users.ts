import { randomBytes } from "node:crypto";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import type { Socket } from "socket.io-client";
import type { BenchUser } from "./colony";
import { connectSocket, forEachLimited, LatencyHistogram } from "./load";
import { sleep } from "./processes";

/** What a simulated user does, and how often relative to sending one message (the issue's mix). */
export const ACTION_WEIGHTS = { send: 1, switch: 6.5, react: 0.13 } as const;
export type Action = keyof typeof ACTION_WEIGHTS;

/** The requests and socket calls the actions make; each is one latency sample. */
export type Operation = "send" | "history" | "read" | "react";
export const OPERATIONS: Operation[] = ["send", "history", "read", "react"];

/** Messages a channel switch reads, as the web app's first page (web/src/features/chat/messageStore.ts). */
const HISTORY_PAGE = 50;
/** Recent messages per channel a reaction may land on. */
const RECENT_PER_CHANNEL = 20;
const EMOJIS = [":+1:", ":tada:", ":eyes:", ":heart:"];
const CONNECT_CONCURRENCY = 25;
/** The event-loop monitor's timer; the histogram holds whole intervals, so the delay is what exceeds it. */
const LOOP_MONITOR_MS = 10;

export interface SimulatedUser {
	user: BenchUser;
	/** The ids of the channels the user is a member of. */
	channels: number[];
}

export interface SimulationOptions {
	gatewayUrl: string;
	/** Mean of the exponentially distributed time between two actions of one user. */
	meanIntervalMs: number;
	/** A request or socket call not answered by then is a failure (and a message not pushed by then is lost). */
	timeoutMs: number;
}

export interface OperationStats {
	count: number;
	p50Ms: number;
	p99Ms: number;
}

/** Everything measured over one window. */
export interface WindowStats {
	durationMs: number;
	actions: Record<Action, number>;
	/** Reactions not made because none of the user's channels had a message yet. */
	reactionsSkipped: number;
	/** Requests and socket calls answered (successfully or not) or timed out in the window. */
	operations: number;
	avgMs: number;
	p50Ms: number;
	p99Ms: number;
	maxMs: number;
	byOperation: Record<Operation, OperationStats>;
	/** Answers of status 500 or above (REST) or socket acknowledgements with such a code. */
	serverErrors: number;
	/** Answers of status 400–499: the bench's requests are valid, so any is a failure too. */
	clientErrors: number;
	/** No answer within the timeout. */
	timeouts: number;
	/** Requests that failed on the network, and sockets the server disconnected. */
	networkErrors: number;
	lastError: string | undefined;
	/** Failures by what failed and how (ids replaced by `:id`), most frequent first. */
	errorKinds: { kind: string; count: number }[];
	/** Every event any socket received (chat.message, presence, …), per second. */
	pushesPerSecond: number;
	/** Messages sent in the window, and the pushes of them the members online should have received. */
	trackedMessages: number;
	expectedReceptions: number;
	/** Of `expectedReceptions`, those not received within the timeout. */
	lostReceptions: number;
	/** From a send to each member's reception of the message. */
	pushP50Ms: number;
	pushP99Ms: number;
	/** The bench client's own event-loop delay: high values mean the client, not the server, adds latency. */
	clientLoopDelayP99Ms: number;
}

interface UserState {
	index: number;
	spec: SimulatedUser;
	socket: Socket;
	current: number;
	lastRead: Map<number, number>;
	timer: NodeJS.Timeout | undefined;
}

interface TrackedMessage {
	sentAt: number;
	waitingFor: number;
	/** The window the message was sent in, which its receptions and losses count for. */
	counters: WindowCounters;
}

/** Counters of one window; replaced when the next one opens. */
class WindowCounters {
	readonly startedAt = performance.now();
	readonly latency = new LatencyHistogram();
	readonly byOperation = new Map<Operation, LatencyHistogram>(OPERATIONS.map((op) => [op, new LatencyHistogram()]));
	readonly push = new LatencyHistogram();
	readonly actions: Record<Action, number> = { send: 0, switch: 0, react: 0 };
	latencySumMs = 0;
	reactionsSkipped = 0;
	serverErrors = 0;
	clientErrors = 0;
	timeouts = 0;
	networkErrors = 0;
	lastError: string | undefined;
	readonly errorKinds = new Map<string, number>();
	pushes = 0;
	trackedMessages = 0;
	expectedReceptions = 0;
	lostReceptions = 0;
}

type Outcome = { kind: "ok" } | { kind: "server" | "client" | "timeout" | "network"; error: string };

/**
 * Simulated users, each with one socket and its bearer token for REST, acting at exponentially distributed
 * intervals (an open loop per user: the next action does not wait for the last one's answer, so a slow server
 * shows as latency, not as less load). Measures windows on demand while the load goes on.
 */
export class LoadSimulation {
	private readonly users: UserState[] = [];
	private readonly online = new Map<number, Set<number>>();
	private readonly recent = new Map<number, number[]>();
	private readonly tracked = new Map<string, TrackedMessage>();
	private readonly run = randomBytes(4).toString("hex");
	private readonly loopDelay = monitorEventLoopDelay({ resolution: LOOP_MONITOR_MS });
	private readonly sweeper: NodeJS.Timeout;
	private window: WindowCounters | undefined;
	private sequence = 0;
	/** Sockets the server disconnected over the whole run, inside a window or not. */
	disconnects = 0;
	private stopped = false;

	constructor(private readonly options: SimulationOptions) {
		this.sweeper = setInterval(() => this.sweep(), 500);
		this.loopDelay.enable();
	}

	get connectedUsers(): number {
		return this.users.filter((state) => state.socket.connected).length;
	}

	/**
	 * Connects one socket per user, 25 at a time, and starts each user's actions once its socket is up. A socket
	 * that cannot connect is counted, not retried: that user stays away.
	 */
	async addUsers(specs: SimulatedUser[]): Promise<{ connected: number; failed: number; lastError: string | undefined }> {
		let failed = 0;
		let lastError: string | undefined;
		await forEachLimited(specs, CONNECT_CONCURRENCY, async (spec) => {
			if (this.stopped) return;
			try {
				const socket = await connectSocket(this.options.gatewayUrl, { token: spec.user.token }, this.options.timeoutMs);
				this.startUser(spec, socket);
			} catch (err) {
				failed++;
				lastError = (err as Error).message;
			}
		});
		return { connected: specs.length - failed, failed, lastError };
	}

	openWindow(): void {
		this.window = new WindowCounters();
		this.loopDelay.reset();
	}

	/** Closes the window and waits, at most the timeout, until the messages it sent reached every member online. */
	async closeWindow(): Promise<WindowStats> {
		const counters = this.window;
		if (!counters) throw new Error("no window is open");
		const durationMs = performance.now() - counters.startedAt;
		const loopDelayP99Ms = Math.max(0, this.loopDelay.percentile(99) / 1e6 - LOOP_MONITOR_MS);
		this.window = undefined;
		const pushesPerSecond = counters.pushes / (durationMs / 1_000);
		const deadline = performance.now() + this.options.timeoutMs + 1_000;
		while ([...this.tracked.values()].some((message) => message.counters === counters) && performance.now() < deadline) await sleep(50);
		this.sweep();
		const count = counters.latency.samples;
		const byOperation = Object.fromEntries(
			OPERATIONS.map((op) => {
				const histogram = counters.byOperation.get(op) ?? new LatencyHistogram();
				return [op, { count: histogram.samples, p50Ms: histogram.percentile(50), p99Ms: histogram.percentile(99) }];
			}),
		) as Record<Operation, OperationStats>;
		return {
			durationMs,
			actions: counters.actions,
			reactionsSkipped: counters.reactionsSkipped,
			operations: count,
			avgMs: count > 0 ? counters.latencySumMs / count : Number.NaN,
			p50Ms: counters.latency.percentile(50),
			p99Ms: counters.latency.percentile(99),
			maxMs: counters.latency.maxMs,
			byOperation,
			serverErrors: counters.serverErrors,
			clientErrors: counters.clientErrors,
			timeouts: counters.timeouts,
			networkErrors: counters.networkErrors,
			lastError: counters.lastError,
			errorKinds: [...counters.errorKinds].map(([kind, count]) => ({ kind, count })).sort((a, b) => b.count - a.count),
			pushesPerSecond,
			trackedMessages: counters.trackedMessages,
			expectedReceptions: counters.expectedReceptions,
			lostReceptions: counters.lostReceptions,
			pushP50Ms: counters.push.percentile(50),
			pushP99Ms: counters.push.percentile(99),
			clientLoopDelayP99Ms: loopDelayP99Ms,
		};
	}

	stop(): void {
		this.stopped = true;
		clearInterval(this.sweeper);
		this.loopDelay.disable();
		for (const state of this.users) {
			clearTimeout(state.timer);
			state.socket.removeAllListeners();
			state.socket.close();
		}
	}

	private startUser(spec: SimulatedUser, socket: Socket): void {
		const state: UserState = { index: this.users.length, spec, socket, current: spec.channels[0], lastRead: new Map(), timer: undefined };
		this.users.push(state);
		for (const channel of spec.channels) this.membersOnline(channel).add(state.index);
		socket.onAny(() => {
			if (this.window) this.window.pushes++;
		});
		socket.on("chat.message", (message: { id?: number; channelId?: number; text?: string | null }) => this.onMessage(message));
		socket.on("disconnect", (reason: string) => {
			for (const channel of spec.channels) this.membersOnline(channel).delete(state.index);
			clearTimeout(state.timer);
			if (this.stopped || reason === "io client disconnect") return;
			this.disconnects++;
			this.fail({ kind: "network", error: `a socket was disconnected: ${reason}` });
		});
		this.scheduleNext(state);
	}

	private membersOnline(channel: number): Set<number> {
		let members = this.online.get(channel);
		if (!members) this.online.set(channel, (members = new Set()));
		return members;
	}

	private scheduleNext(state: UserState): void {
		if (this.stopped || !state.socket.connected) return;
		// Exponentially distributed gaps: each user's actions are a Poisson process of the configured mean rate.
		const gap = -Math.log(1 - Math.random()) * this.options.meanIntervalMs;
		state.timer = setTimeout(() => {
			this.act(state);
			this.scheduleNext(state);
		}, gap);
	}

	private act(state: UserState): void {
		const action = pickAction();
		if (this.window) this.window.actions[action]++;
		if (action === "send") void this.send(state);
		else if (action === "switch") void this.switchChannel(state);
		else void this.react(state);
	}

	private async send(state: UserState): Promise<void> {
		const seq = this.sequence++;
		const text = `load:${this.run}:${seq}`;
		const channelId = state.current;
		const started = performance.now();
		if (this.window) {
			const waitingFor = this.membersOnline(channelId).size;
			this.tracked.set(text, { sentAt: started, waitingFor, counters: this.window });
			this.window.trackedMessages++;
			this.window.expectedReceptions += waitingFor;
		}
		const outcome = await this.socketCall(state.socket, "chat.send", { channelId, text, clientMsgId: `${this.run}-${seq}` });
		this.record("send", started, outcome);
	}

	/** What the web app does on opening a channel: its newest page, then the read marker up to the newest message. */
	private async switchChannel(state: UserState): Promise<void> {
		const others = state.spec.channels.filter((channel) => channel !== state.current);
		const channelId = others.length > 0 ? others[Math.floor(Math.random() * others.length)] : state.current;
		state.current = channelId;
		const token = state.spec.user.token;
		const started = performance.now();
		const history = await this.rest<{ items: { id: number }[] }>("GET", `/api/v1/channels/${channelId}/messages?limit=${HISTORY_PAGE}`, token);
		this.record("history", started, history.outcome);
		const newest = history.body?.items[0]?.id;
		if (newest === undefined || newest <= (state.lastRead.get(channelId) ?? 0)) return;
		state.lastRead.set(channelId, newest);
		const readStarted = performance.now();
		const read = await this.rest("POST", `/api/v1/channels/${channelId}/read`, token, { messageId: newest });
		this.record("read", readStarted, read.outcome);
	}

	private async react(state: UserState): Promise<void> {
		const candidates = [state.current, ...state.spec.channels.filter((channel) => channel !== state.current)];
		const channelId = candidates.find((channel) => (this.recent.get(channel)?.length ?? 0) > 0);
		const ids = channelId === undefined ? undefined : this.recent.get(channelId);
		if (!ids || ids.length === 0) {
			if (this.window) this.window.reactionsSkipped++;
			return;
		}
		const messageId = ids[Math.floor(Math.random() * ids.length)];
		const emoji = EMOJIS[Math.floor(Math.random() * EMOJIS.length)];
		const started = performance.now();
		const answer = await this.rest("POST", `/api/v1/messages/${messageId}/reactions`, state.spec.user.token, { emoji });
		this.record("react", started, answer.outcome);
	}

	private async rest<T>(method: string, path: string, token: string, body?: unknown): Promise<{ outcome: Outcome; body?: T }> {
		const headers: Record<string, string> = { authorization: `Bearer ${token}` };
		if (body !== undefined) headers["content-type"] = "application/json";
		try {
			const res = await fetch(this.options.gatewayUrl + path, {
				method,
				headers,
				body: body === undefined ? undefined : JSON.stringify(body),
				signal: AbortSignal.timeout(this.options.timeoutMs),
			});
			const text = await res.text();
			if (res.status >= 500) return { outcome: { kind: "server", error: `${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}` } };
			if (res.status >= 400) return { outcome: { kind: "client", error: `${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}` } };
			return { outcome: { kind: "ok" }, body: (text ? JSON.parse(text) : undefined) as T };
		} catch (err) {
			const error = err as Error;
			if (error.name === "TimeoutError") return { outcome: { kind: "timeout", error: `${method} ${path}: no answer within ${this.options.timeoutMs} ms` } };
			const cause = (error as Error & { cause?: Error }).cause;
			return { outcome: { kind: "network", error: `${method} ${path}: ${error.message}${cause ? ` (${cause.message})` : ""}` } };
		}
	}

	private socketCall(socket: Socket, action: string, params: object): Promise<Outcome> {
		return new Promise((resolve) => {
			if (!socket.connected) {
				resolve({ kind: "network", error: `${action}: the socket is not connected` });
				return;
			}
			socket
				.timeout(this.options.timeoutMs)
				.emit("call", action, params, (failure: Error | null, err: { code?: number; type?: string; message?: string } | null) => {
					if (failure) resolve({ kind: "timeout", error: `${action}: no acknowledgement within ${this.options.timeoutMs} ms` });
					else if (err) {
						const error = `${action}: ${err.code ?? "?"} ${err.type ?? "error"} ${err.message ?? JSON.stringify(err)}`;
						resolve({ kind: (err.code ?? 500) >= 500 ? "server" : "client", error });
					} else resolve({ kind: "ok" });
				});
		});
	}

	private record(operation: Operation, started: number, outcome: Outcome): void {
		const window = this.window;
		// Operations that end in the window count, whenever they started.
		if (!window) return;
		const ms = performance.now() - started;
		window.latency.record(ms);
		window.byOperation.get(operation)?.record(ms);
		window.latencySumMs += ms;
		if (outcome.kind !== "ok") this.fail(outcome);
	}

	private fail(outcome: Exclude<Outcome, { kind: "ok" }>): void {
		const window = this.window;
		if (!window) return;
		if (outcome.kind === "server") window.serverErrors++;
		else if (outcome.kind === "client") window.clientErrors++;
		else if (outcome.kind === "timeout") window.timeouts++;
		else window.networkErrors++;
		window.lastError = outcome.error;
		const kind = outcome.error.replace(/\/\d+/g, "/:id").replace(/load:\w+:\d+/g, "…").slice(0, 200);
		window.errorKinds.set(kind, (window.errorKinds.get(kind) ?? 0) + 1);
	}

	private onMessage(message: { id?: number; channelId?: number; text?: string | null }): void {
		if (typeof message?.id !== "number" || typeof message.channelId !== "number") return;
		const ids = this.recent.get(message.channelId) ?? [];
		if (!ids.includes(message.id)) {
			ids.push(message.id);
			if (ids.length > RECENT_PER_CHANNEL) ids.shift();
			this.recent.set(message.channelId, ids);
		}
		const text = message.text;
		if (typeof text !== "string") return;
		const tracked = this.tracked.get(text);
		if (!tracked) return;
		tracked.counters.push.record(performance.now() - tracked.sentAt);
		tracked.waitingFor--;
		if (tracked.waitingFor <= 0) this.tracked.delete(text);
	}

	/** Messages still missing receptions after the timeout: those receptions are lost. */
	private sweep(): void {
		const now = performance.now();
		for (const [text, message] of this.tracked) {
			if (now - message.sentAt < this.options.timeoutMs) continue;
			message.counters.lostReceptions += message.waitingFor;
			this.tracked.delete(text);
		}
	}
}

function pickAction(): Action {
	const total = ACTION_WEIGHTS.send + ACTION_WEIGHTS.switch + ACTION_WEIGHTS.react;
	let roll = Math.random() * total;
	for (const action of Object.keys(ACTION_WEIGHTS) as Action[]) {
		roll -= ACTION_WEIGHTS[action];
		if (roll < 0) return action;
	}
	return "switch";
}

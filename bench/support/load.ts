import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { io, type Socket } from "socket.io-client";
import { sleep } from "./processes";

/** What both systems push to a channel's sockets: Colony's MessageView, or the bare server's copy of its shape. */
export interface PushedMessage {
	text: string | null;
}

/** Sends one message to a channel through a socket and resolves on the server's acknowledgement. */
export type SendMessage = (socket: Socket, channel: number, text: string) => Promise<void>;

/** One channel of a scenario: the socket that sends into it and every socket in its room, the sender's too. */
export interface ChannelLoad {
	channel: number;
	sender: Socket;
	members: Socket[];
}

interface PhaseOptions {
	warmupMs: number;
	durationMs: number;
	/** A message some member has not received by then counts as lost (and, in the closed loop, frees its slot). */
	deliveryTimeoutMs: number;
	/** Called when the measured window opens and closes (CPU meters). */
	onWindowStart?: () => void;
	onWindowEnd?: () => void;
}

export interface ClosedLoopOptions extends PhaseOptions {
	/** Messages of one channel in flight at once: sent and not yet acknowledged and received by every member. */
	inFlight: number;
}

export interface FixedRateOptions extends PhaseOptions {
	/** Messages per second offered in total, split evenly over the channels. */
	ratePerSecond: number;
}

export interface LoadResult {
	/** Messages sent per second during the measured window (at a fixed rate: due to be sent, i.e. offered). */
	sentPerSecond: number;
	/** Messages acknowledged and received by every member of their channel during the window, per second. */
	deliveredPerSecond: number;
	/** Single socket receptions per second during the window (delivered messages × room size). */
	receptionsPerSecond: number;
	p50Ms: number;
	p99Ms: number;
	maxMs: number;
	/** Median time from send to the server's acknowledgement, for messages sent in the window. */
	ackP50Ms: number;
	/** Median time from a message's first reception to its last, across the sockets of its channel. */
	spreadP50Ms: number;
	lost: number;
	errors: number;
	lastError?: string;
	/** How late the client's timers sent a window's message after its due time, at worst (0 in the closed loop). */
	sendLagMaxMs: number;
}

const BUCKET_MS = 0.05;
const HISTOGRAM_LIMIT_MS = 30_000;

/** Latencies in fixed 0.05 ms buckets: bounded memory whatever the message count. */
export class LatencyHistogram {
	private readonly buckets = new Uint32Array(Math.ceil(HISTOGRAM_LIMIT_MS / BUCKET_MS) + 1);
	private count = 0;
	private max = 0;

	record(ms: number): void {
		const index = Math.min(this.buckets.length - 1, Math.max(0, Math.floor(ms / BUCKET_MS)));
		this.buckets[index]++;
		this.count++;
		if (ms > this.max) this.max = ms;
	}

	get samples(): number {
		return this.count;
	}

	get maxMs(): number {
		return this.max;
	}

	percentile(p: number): number {
		if (this.count === 0) return Number.NaN;
		const rank = Math.ceil((p / 100) * this.count);
		let seen = 0;
		for (let i = 0; i < this.buckets.length; i++) {
			seen += this.buckets[i];
			if (seen >= rank) return Math.min((i + 1) * BUCKET_MS, this.max);
		}
		return this.max;
	}
}

export function connectSocket(url: string, auth: Record<string, unknown>, timeoutMs = 15_000): Promise<Socket> {
	return new Promise((resolve, reject) => {
		// forceNew: one WebSocket per socket, as separate clients would have, never multiplexed on one.
		const socket = io(url, { auth, transports: ["websocket"], reconnection: false, forceNew: true, timeout: timeoutMs });
		socket.once("connect", () => resolve(socket));
		socket.once("connect_error", (err: Error) => {
			socket.close();
			reject(new Error(`socket could not connect to ${url}: ${err.message}`));
		});
	});
}

/**
 * Connects one socket per entry of `auths`, `concurrency` at a time. Every socket is pushed to `into` as soon
 * as it connects, so the caller closes all of them even when a later one fails.
 */
export async function connectSockets(url: string, auths: Record<string, unknown>[], concurrency: number, into: Socket[]): Promise<Socket[]> {
	const sockets: Socket[] = new Array<Socket>(auths.length);
	await forEachLimited(auths, concurrency, async (auth, i) => {
		const socket = await connectSocket(url, auth);
		into.push(socket);
		sockets[i] = socket;
	});
	return sockets;
}

export function closeSockets(sockets: Socket[]): void {
	for (const socket of sockets.splice(0)) {
		socket.removeAllListeners();
		socket.close();
	}
}

/** Runs `work` over `items` with at most `limit` running at once; the first failure fails the whole. */
export async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
	let next = 0;
	let failed = false;
	const worker = async () => {
		while (!failed && next < items.length) {
			const index = next++;
			try {
				await work(items[index], index);
			} catch (err) {
				failed = true;
				throw err;
			}
		}
	};
	await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

interface Tracked {
	load: ChannelLoad;
	sentAt: number;
	firstReceivedAt: number | undefined;
	waitingFor: number;
	acked: boolean;
	settled: boolean;
}

/** How a message left the tracker: received by every member, not received in time, or refused by the server. */
type Outcome = "delivered" | "lost" | "failed";

/**
 * Follows every message of one run from its send to its last reception and counts what happened inside the
 * measured window. Each message's text carries its send time, so every socket measures send-to-receive latency
 * with the bench's own monotonic clock.
 */
class Deliveries {
	readonly latency = new LatencyHistogram();
	readonly ackLatency = new LatencyHistogram();
	readonly spread = new LatencyHistogram();
	sent = 0;
	delivered = 0;
	receptions = 0;
	lost = 0;
	errors = 0;
	lastError: string | undefined;
	sendLagMaxMs = 0;
	private readonly run = randomBytes(4).toString("hex");
	private readonly pending = new Map<string, Tracked>();
	private readonly receivers: Set<Socket>;
	private readonly sweeper: NodeJS.Timeout;

	constructor(
		channels: ChannelLoad[],
		private readonly windowStart: number,
		private readonly windowEnd: number,
		private readonly deliveryTimeoutMs: number,
		private readonly onSettled: (load: ChannelLoad, outcome: Outcome) => void = () => undefined,
	) {
		this.receivers = new Set(channels.flatMap((load) => load.members));
		for (const socket of this.receivers) socket.on("chat.message", this.onMessage);
		this.sweeper = setInterval(() => this.sweep(), 100);
	}

	/** Sends message `seq` of a channel; its latencies count from `dueAt`, when it was meant to leave. */
	send(load: ChannelLoad, seq: number, dueAt: number, send: SendMessage): void {
		const key = `${load.channel}:${seq}`;
		const message: Tracked = { load, sentAt: dueAt, firstReceivedAt: undefined, waitingFor: load.members.length, acked: false, settled: false };
		this.pending.set(key, message);
		if (this.inWindow(dueAt)) {
			this.sent++;
			this.sendLagMaxMs = Math.max(this.sendLagMaxMs, performance.now() - dueAt);
		}
		send(load.sender, load.channel, `bench:${this.run}:${key}:${dueAt.toFixed(3)}`).then(
			() => {
				const now = performance.now();
				if (this.inWindow(dueAt)) this.ackLatency.record(now - dueAt);
				message.acked = true;
				this.settleIfDone(key, message, now);
			},
			(err: Error) => {
				this.errors++;
				this.lastError = err.message;
				this.settle(key, message, "failed");
			},
		);
	}

	/** Waits until every message sent so far is settled, bounded by the delivery timeout. */
	async drain(): Promise<void> {
		const deadline = performance.now() + this.deliveryTimeoutMs + 200;
		while (this.pending.size > 0 && performance.now() < deadline) await sleep(20);
	}

	close(): void {
		clearInterval(this.sweeper);
		for (const socket of this.receivers) socket.off("chat.message", this.onMessage);
	}

	result(durationMs: number): LoadResult {
		const seconds = durationMs / 1_000;
		return {
			sentPerSecond: this.sent / seconds,
			deliveredPerSecond: this.delivered / seconds,
			receptionsPerSecond: this.receptions / seconds,
			p50Ms: this.latency.percentile(50),
			p99Ms: this.latency.percentile(99),
			maxMs: this.latency.maxMs,
			ackP50Ms: this.ackLatency.percentile(50),
			spreadP50Ms: this.spread.percentile(50),
			lost: this.lost,
			errors: this.errors,
			lastError: this.lastError,
			sendLagMaxMs: this.sendLagMaxMs,
		};
	}

	private inWindow(t: number): boolean {
		return t >= this.windowStart && t < this.windowEnd;
	}

	private readonly onMessage = (pushed: PushedMessage): void => {
		const now = performance.now();
		const parts = typeof pushed?.text === "string" ? pushed.text.split(":") : [];
		if (parts.length !== 5 || parts[0] !== "bench" || parts[1] !== this.run) return;
		const sentAt = Number(parts[4]);
		if (this.inWindow(sentAt)) this.latency.record(now - sentAt);
		if (this.inWindow(now)) this.receptions++;
		const key = `${parts[2]}:${parts[3]}`;
		const message = this.pending.get(key);
		if (!message) return;
		message.firstReceivedAt ??= now;
		message.waitingFor--;
		if (message.waitingFor === 0 && this.inWindow(sentAt)) this.spread.record(now - message.firstReceivedAt);
		this.settleIfDone(key, message, now);
	};

	private settleIfDone(key: string, message: Tracked, now: number): void {
		if (message.settled || !message.acked || message.waitingFor > 0) return;
		if (this.inWindow(now)) this.delivered++;
		this.settle(key, message, "delivered");
	}

	private settle(key: string, message: Tracked, outcome: Outcome): void {
		if (message.settled) return;
		message.settled = true;
		this.pending.delete(key);
		this.onSettled(message.load, outcome);
	}

	private sweep(): void {
		const now = performance.now();
		for (const [key, message] of this.pending) {
			if (now - message.sentAt < this.deliveryTimeoutMs) continue;
			this.lost++;
			this.settle(key, message, "lost");
		}
	}
}

/** Sleeps through the warm-up and the measured window, telling the caller when the window opens and closes. */
async function throughWindow(windowStart: number, windowEnd: number, options: PhaseOptions): Promise<void> {
	await sleep(windowStart - performance.now());
	options.onWindowStart?.();
	await sleep(windowEnd - performance.now());
	options.onWindowEnd?.();
}

/**
 * A closed loop per channel: each channel keeps `inFlight` messages going, and a slot sends its next message
 * only once the last one was acknowledged and received by every member. It finds the highest sustained rate;
 * its latencies are mostly the wait behind the other messages in flight.
 */
export async function runClosedLoop(channels: ChannelLoad[], send: SendMessage, options: ClosedLoopOptions): Promise<LoadResult> {
	const start = performance.now();
	const windowStart = start + options.warmupMs;
	const windowEnd = windowStart + options.durationMs;
	const inFlight = new Map<ChannelLoad, number>(channels.map((load) => [load, 0]));
	const nextSeq = new Map<ChannelLoad, number>(channels.map((load) => [load, 0]));
	let sending = true;
	const pump = (load: ChannelLoad) => {
		while (sending && (inFlight.get(load) ?? 0) < options.inFlight) {
			const seq = nextSeq.get(load) ?? 0;
			nextSeq.set(load, seq + 1);
			inFlight.set(load, (inFlight.get(load) ?? 0) + 1);
			deliveries.send(load, seq, performance.now(), send);
		}
	};
	const deliveries = new Deliveries(channels, windowStart, windowEnd, options.deliveryTimeoutMs, (load, outcome) => {
		inFlight.set(load, (inFlight.get(load) ?? 1) - 1);
		// A refused send frees its slot a little later, so a failing server is not hammered in a tight loop.
		if (outcome === "failed") setTimeout(() => pump(load), 50);
		else pump(load);
	});
	try {
		channels.forEach(pump);
		await throughWindow(windowStart, windowEnd, options);
		sending = false;
		// Let the last messages arrive (their latencies count), bounded by the delivery timeout.
		await deliveries.drain();
	} finally {
		sending = false;
		deliveries.close();
	}
	return deliveries.result(options.durationMs);
}

/**
 * An open loop: every channel sends on a fixed schedule of its own, whatever happened to its earlier messages,
 * so the latencies are those of the path at that load, not of a queue the bench builds. The channels' schedules
 * are staggered so the total stream is evenly spaced. Latency counts from when a message was due, so a late
 * timer in the client adds to the result rather than hiding a slow moment (no coordinated omission).
 */
export async function runFixedRate(channels: ChannelLoad[], send: SendMessage, options: FixedRateOptions): Promise<LoadResult> {
	if (!(options.ratePerSecond > 0)) throw new Error(`a fixed rate must be above 0 msgs/s, got ${options.ratePerSecond}`);
	const start = performance.now() + 20;
	const windowStart = start + options.warmupMs;
	const windowEnd = windowStart + options.durationMs;
	const intervalMs = (channels.length * 1_000) / options.ratePerSecond;
	const deliveries = new Deliveries(channels, windowStart, windowEnd, options.deliveryTimeoutMs);
	const timers = new Set<NodeJS.Timeout>();
	// Each channel sends a known number of messages: those due before the window closes.
	const schedule = (load: ChannelLoad, index: number, seq: number) => {
		const dueAt = start + (index / channels.length) * intervalMs + seq * intervalMs;
		if (dueAt >= windowEnd) return;
		const timer = setTimeout(
			() => {
				timers.delete(timer);
				deliveries.send(load, seq, dueAt, send);
				schedule(load, index, seq + 1);
			},
			Math.max(0, dueAt - performance.now()),
		);
		timers.add(timer);
	};
	try {
		channels.forEach((load, index) => schedule(load, index, 0));
		await throughWindow(windowStart, windowEnd, options);
		await deliveries.drain();
	} finally {
		for (const timer of timers) clearTimeout(timer);
		deliveries.close();
	}
	return deliveries.result(options.durationMs);
}

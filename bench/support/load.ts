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

export interface LoadOptions {
	warmupMs: number;
	durationMs: number;
	/** Messages of one channel in flight at once: sent and not yet acknowledged and received by every member. */
	inFlight: number;
	/** A message some member has not received by then counts as lost, and its slot sends the next one. */
	deliveryTimeoutMs: number;
	/** Called when the measured window opens and closes (CPU meters). */
	onWindowStart?: () => void;
	onWindowEnd?: () => void;
}

export interface LoadResult {
	/** Messages sent per second during the measured window. */
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
	lost: number;
	errors: number;
	lastError?: string;
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

interface InFlight {
	channel: ChannelState;
	sentAt: number;
	waitingFor: number;
	acked: boolean;
	settled: boolean;
}

interface ChannelState {
	load: ChannelLoad;
	nextSeq: number;
	inFlight: number;
}

/**
 * A closed loop per channel: each channel keeps `inFlight` messages going, and a slot sends its next message
 * only once the last one was acknowledged and received by every member. Each message's text carries its send
 * time, so every socket measures send-to-receive latency with the bench's own monotonic clock.
 */
export async function runClosedLoop(channels: ChannelLoad[], send: SendMessage, options: LoadOptions): Promise<LoadResult> {
	const run = randomBytes(4).toString("hex");
	const states: ChannelState[] = channels.map((load) => ({ load, nextSeq: 0, inFlight: 0 }));
	const pending = new Map<string, InFlight>();
	const latency = new LatencyHistogram();
	const ackLatency = new LatencyHistogram();
	const start = performance.now();
	const windowStart = start + options.warmupMs;
	const windowEnd = windowStart + options.durationMs;
	const inWindow = (t: number) => t >= windowStart && t < windowEnd;
	let sending = true;
	let sent = 0;
	let delivered = 0;
	let receptions = 0;
	let lost = 0;
	let errors = 0;
	let lastError: string | undefined;

	const release = (key: string, message: InFlight) => {
		if (message.settled) return;
		message.settled = true;
		pending.delete(key);
		message.channel.inFlight--;
		pump(message.channel);
	};
	const settleIfDone = (key: string, message: InFlight, now: number) => {
		if (message.settled || !message.acked || message.waitingFor > 0) return;
		if (inWindow(now)) delivered++;
		release(key, message);
	};
	const pump = (state: ChannelState) => {
		while (sending && state.inFlight < options.inFlight) sendNext(state);
	};
	const sendNext = (state: ChannelState) => {
		const seq = state.nextSeq++;
		const key = `${state.load.channel}:${seq}`;
		const sentAt = performance.now();
		const message: InFlight = { channel: state, sentAt, waitingFor: state.load.members.length, acked: false, settled: false };
		pending.set(key, message);
		state.inFlight++;
		if (inWindow(sentAt)) sent++;
		send(state.load.sender, state.load.channel, `bench:${run}:${key}:${sentAt.toFixed(3)}`).then(
			() => {
				const now = performance.now();
				if (inWindow(sentAt)) ackLatency.record(now - sentAt);
				message.acked = true;
				settleIfDone(key, message, now);
			},
			(err: Error) => {
				errors++;
				lastError = err.message;
				if (message.settled) return;
				message.settled = true;
				pending.delete(key);
				state.inFlight--;
				// A refused send frees its slot a little later, so a failing server is not hammered in a tight loop.
				setTimeout(() => pump(state), 50);
			},
		);
	};
	const onMessage = (pushed: PushedMessage) => {
		const now = performance.now();
		const parts = typeof pushed?.text === "string" ? pushed.text.split(":") : [];
		if (parts.length !== 5 || parts[0] !== "bench" || parts[1] !== run) return;
		const sentAt = Number(parts[4]);
		if (inWindow(sentAt)) latency.record(now - sentAt);
		if (inWindow(now)) receptions++;
		const key = `${parts[2]}:${parts[3]}`;
		const message = pending.get(key);
		if (!message) return;
		message.waitingFor--;
		settleIfDone(key, message, now);
	};

	const receivers = new Set(channels.flatMap((load) => load.members));
	for (const socket of receivers) socket.on("chat.message", onMessage);
	const sweeper = setInterval(() => {
		const now = performance.now();
		for (const [key, message] of pending) {
			if (now - message.sentAt < options.deliveryTimeoutMs) continue;
			lost++;
			release(key, message);
		}
	}, 100);
	try {
		states.forEach(pump);
		await sleep(windowStart - performance.now());
		options.onWindowStart?.();
		await sleep(windowEnd - performance.now());
		options.onWindowEnd?.();
		sending = false;
		// Let the last messages arrive (their latencies count), bounded by the delivery timeout.
		const drainDeadline = performance.now() + options.deliveryTimeoutMs + 200;
		while (pending.size > 0 && performance.now() < drainDeadline) await sleep(20);
	} finally {
		sending = false;
		clearInterval(sweeper);
		for (const socket of receivers) socket.off("chat.message", onMessage);
	}

	const seconds = options.durationMs / 1_000;
	return {
		sentPerSecond: sent / seconds,
		deliveredPerSecond: delivered / seconds,
		receptionsPerSecond: receptions / seconds,
		p50Ms: latency.percentile(50),
		p99Ms: latency.percentile(99),
		maxMs: latency.maxMs,
		ackP50Ms: ackLatency.percentile(50),
		lost,
		errors,
		lastError,
	};
}

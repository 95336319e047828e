import type { RedisConnection } from "./redis";

export interface RateLimitDecision {
	allowed: boolean;
	limit: number;
	remaining: number;
	/** Seconds until the window resets. */
	resetSeconds: number;
}

/** Counters every node shares, e.g. in Redis. */
export interface SharedCounters {
	/** Whether the counters can be reached right now. */
	readonly usable: boolean;
	/** Adds `by` to `key`'s counter, opening a window of `windowMs` with its first count; answers the total and time left. */
	add(key: string, by: number, windowMs: number): Promise<{ count: number; ttlMs: number }>;
}

interface Window {
	count: number;
	endsAt: number;
}

type Resolve = (decision: RateLimitDecision) => void;

interface Waiting {
	resolve: Resolve;
	limit: number;
}

/**
 * A fixed window per key that opens with the key's first request. With shared counters every node counts
 * against one budget: the requests of one tick are added to a key's counter in one command. A key far below its
 * budget (under half, as last counted, with what this node added since) is let through at once while its count
 * is added; near the budget each request waits for the shared count; a key known to be over its budget is
 * refused without asking. Without shared counters (or while they cannot be reached) each node counts alone.
 */
export class RateLimiter {
	private readonly local = new Map<string, Window>();
	/** Requests sent to the shared counters and not yet counted there, per key. */
	private readonly unconfirmed = new Map<string, number>();
	private pending = new Map<string, Waiting[]>();
	private flushScheduled = false;
	private readonly sweeper: NodeJS.Timeout;

	constructor(
		private readonly limit: number,
		private readonly windowMs = 60_000,
		private readonly shared?: SharedCounters,
		private readonly onFailure: (err: Error) => void = () => undefined,
		/**
		 * "turn": a decision far from the budget is given at the end of the event loop's turn, with the other requests
		 * read in it (a gateway's next NATS requests then leave in fewer writes). "now": at once, before the count is
		 * sent (an ai node's request goes straight to its host).
		 */
		private readonly answerFarFromBudget: "turn" | "now" = "turn",
	) {
		this.sweeper = setInterval(() => this.sweep(), windowMs);
		this.sweeper.unref();
	}

	/** Counts one request of `key`; `limit` overrides the limiter's for keys whose budget differs (e.g. per role). */
	consume(key: string, limit = this.limit): Promise<RateLimitDecision> {
		const now = Date.now();
		const known = this.local.get(key);
		// Counts only grow within a window: a key over its budget stays over it until the window ends.
		if (known && known.endsAt > now && known.count >= limit) return Promise.resolve(this.decide(known.count + 1, known.endsAt, limit));
		if (!this.shared?.usable) return Promise.resolve(this.countLocally(key, now, limit));
		const current = known && known.endsAt > now ? known : undefined;
		const expected = (current?.count ?? 0) + (this.unconfirmed.get(key) ?? 0) + 1;
		const counted = new Promise<RateLimitDecision>((resolve) => this.enqueue(key, limit, resolve));
		if (expected > limit / 2) return counted;
		// Far from the budget: answered without waiting for the shared count (see answerFarFromBudget for when).
		const decision = this.decide(expected, current?.endsAt ?? now + this.windowMs, limit);
		if (this.answerFarFromBudget === "now") return Promise.resolve(decision);
		return new Promise((resolve) => setImmediate(resolve, decision));
	}

	private enqueue(key: string, limit: number, resolve: Resolve): void {
		this.unconfirmed.set(key, (this.unconfirmed.get(key) ?? 0) + 1);
		const waiting = this.pending.get(key);
		if (waiting) waiting.push({ resolve, limit });
		else this.pending.set(key, [{ resolve, limit }]);
		if (!this.flushScheduled) {
			this.flushScheduled = true;
			setImmediate(() => this.flush());
		}
	}

	private confirmed(key: string, count: number): void {
		const left = (this.unconfirmed.get(key) ?? 0) - count;
		if (left > 0) this.unconfirmed.set(key, left);
		else this.unconfirmed.delete(key);
	}

	close(): void {
		clearInterval(this.sweeper);
	}

	private flush(): void {
		const batch = this.pending;
		this.pending = new Map();
		this.flushScheduled = false;
		for (const [key, waiting] of batch) {
			this.shared!.add(key, waiting.length, this.windowMs).then(
				({ count, ttlMs }) => {
					this.confirmed(key, waiting.length);
					const endsAt = Date.now() + ttlMs;
					const known = this.local.get(key);
					// Replies of one key come back in order, but a later window must not be taken for an older one.
					if (!known || known.endsAt <= Date.now() || count >= known.count) this.local.set(key, { count, endsAt });
					const first = count - waiting.length;
					waiting.forEach(({ resolve, limit }, i) => resolve(this.decide(first + i + 1, endsAt, limit)));
				},
				(err: Error) => {
					this.confirmed(key, waiting.length);
					this.onFailure(err);
					for (const { resolve, limit } of waiting) resolve(this.countLocally(key, Date.now(), limit));
				},
			);
		}
	}

	private countLocally(key: string, now: number, limit: number): RateLimitDecision {
		let window = this.local.get(key);
		if (!window || window.endsAt <= now) {
			window = { count: 0, endsAt: now + this.windowMs };
			this.local.set(key, window);
		}
		window.count += 1;
		return this.decide(window.count, window.endsAt, limit);
	}

	private decide(count: number, endsAt: number, limit: number): RateLimitDecision {
		return {
			allowed: count <= limit,
			limit,
			remaining: Math.max(0, limit - count),
			resetSeconds: Math.max(1, Math.ceil((endsAt - Date.now()) / 1000)),
		};
	}

	private sweep(): void {
		const now = Date.now();
		for (const [key, window] of this.local) if (window.endsAt <= now) this.local.delete(key);
	}
}

const ADD_SCRIPT = `
local count = redis.call("INCRBY", KEYS[1], ARGV[1])
if count == tonumber(ARGV[1]) then redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
local ttl = redis.call("PTTL", KEYS[1])
if ttl < 0 then redis.call("PEXPIRE", KEYS[1], ARGV[2]); ttl = tonumber(ARGV[2]) end
return { count, ttl }`;

/** Rate-limit counters in Redis, under `<prefix>ratelimit:`. */
export class RedisCounters implements SharedCounters {
	constructor(
		private readonly redis: RedisConnection,
		private readonly prefix: string,
	) {
		redis.client.defineCommand("colonyAddToWindow", { numberOfKeys: 1, lua: ADD_SCRIPT });
	}

	get usable(): boolean {
		return this.redis.usable;
	}

	add(key: string, by: number, windowMs: number): Promise<{ count: number; ttlMs: number }> {
		return this.redis.run(async (client) => {
			const add = (client as unknown as { colonyAddToWindow(key: string, by: number, windowMs: number): Promise<[number, number]> })
				.colonyAddToWindow;
			const [count, ttlMs] = await add.call(client, `${this.prefix}ratelimit:${key}`, by, windowMs);
			return { count, ttlMs };
		});
	}
}

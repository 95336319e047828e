import Redis, { type RedisOptions } from "ioredis";

/** How long Redis is left alone after a failure: callers get their fallback at once instead of each waiting. */
const SUSPEND_AFTER_FAILURE_MS = 3_000;

/**
 * ioredis options for Colony's shared state: commands fail at once while disconnected (no offline queue) and
 * within a second while Redis hangs, instead of queueing behind a dead connection; reconnection goes on forever.
 */
export function redisOptions(url: string): RedisOptions {
	const parsed = new URL(url);
	if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") throw new Error(`REDIS_URL must be redis:// or rediss://, got ${parsed.protocol}`);
	const db = parsed.pathname.replace(/^\//, "");
	return {
		host: parsed.hostname,
		port: Number(parsed.port || 6379),
		username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
		password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
		db: db ? Number(db) : 0,
		tls: parsed.protocol === "rediss:" ? {} : undefined,
		enableOfflineQueue: false,
		// Commands issued in the same tick share one write: a syscall per batch, not per command.
		enableAutoPipelining: true,
		maxRetriesPerRequest: 1,
		connectTimeout: 2_000,
		commandTimeout: 1_000,
		retryStrategy: (attempt) => Math.min(200 * attempt, 2_000),
	};
}

export class RedisUnavailableError extends Error {
	constructor() {
		super("Redis is unavailable");
	}
}

/**
 * A Redis connection that knows when not to be used: while it is down, and for a moment after a command failed,
 * `run` refuses at once so the caller takes its fallback (local counting, a cache miss, unknown presence).
 */
export class RedisConnection {
	readonly client: Redis;
	private suspendedUntil = 0;

	constructor(
		url: string,
		private readonly onFailure: (err: Error) => void = () => undefined,
	) {
		this.client = new Redis(redisOptions(url));
		// ioredis reconnects by itself; the error is reported (once per burst) by whoever ran a command.
		this.client.on("error", () => undefined);
	}

	get usable(): boolean {
		return this.client.status === "ready" && Date.now() >= this.suspendedUntil;
	}

	async run<T>(command: (client: Redis) => Promise<T>): Promise<T> {
		if (!this.usable) throw new RedisUnavailableError();
		try {
			return await command(this.client);
		} catch (err) {
			this.suspendedUntil = Date.now() + SUSPEND_AFTER_FAILURE_MS;
			this.onFailure(err as Error);
			throw err;
		}
	}

	isReady(): boolean {
		return this.client.status === "ready";
	}

	close(): void {
		this.client.disconnect();
	}
}

import Redis from "ioredis";

/**
 * The small shared state the platform keeps outside its databases: the token blacklist, rate-limit
 * counters, presence. Redis when configured (shared by every node), otherwise process memory.
 */
export interface KeyValueStore {
	set(key: string, value: string, ttlMs: number): Promise<void>;
	get(key: string): Promise<string | null>;
	/** Adds one to a counter and returns its new value and how long until it expires. */
	increment(key: string, windowMs: number): Promise<{ count: number; ttlMs: number }>;
	delete(key: string): Promise<void>;
	isReady(): boolean;
	close(): Promise<void>;
}

export class MemoryStore implements KeyValueStore {
	private readonly entries = new Map<string, { value: string; expiresAt: number }>();
	private readonly sweeper: NodeJS.Timeout;

	constructor(sweepIntervalMs = 60_000) {
		this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
		this.sweeper.unref();
	}

	async set(key: string, value: string, ttlMs: number): Promise<void> {
		this.entries.set(key, { value, expiresAt: Date.now() + ttlMs });
	}

	async get(key: string): Promise<string | null> {
		return this.live(key)?.value ?? null;
	}

	async increment(key: string, windowMs: number): Promise<{ count: number; ttlMs: number }> {
		const entry = this.live(key) ?? { value: "0", expiresAt: Date.now() + windowMs };
		entry.value = String(Number(entry.value) + 1);
		this.entries.set(key, entry);
		return { count: Number(entry.value), ttlMs: entry.expiresAt - Date.now() };
	}

	async delete(key: string): Promise<void> {
		this.entries.delete(key);
	}

	isReady(): boolean {
		return true;
	}

	async close(): Promise<void> {
		clearInterval(this.sweeper);
		this.entries.clear();
	}

	private live(key: string) {
		const entry = this.entries.get(key);
		if (entry && entry.expiresAt <= Date.now()) {
			this.entries.delete(key);
			return undefined;
		}
		return entry;
	}

	private sweep(): void {
		const now = Date.now();
		for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
	}
}

const INCREMENT_SCRIPT = `
local count = redis.call("INCR", KEYS[1])
if count == 1 then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end
local ttl = redis.call("PTTL", KEYS[1])
if ttl < 0 then redis.call("PEXPIRE", KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return { count, ttl }`;

export class RedisStore implements KeyValueStore {
	readonly client: Redis;

	constructor(url: string, private readonly prefix = "colony:") {
		this.client = new Redis(url, {
			lazyConnect: false,
			connectTimeout: 5_000,
			commandTimeout: 2_000,
			maxRetriesPerRequest: 2,
		});
		// ioredis reconnects by itself; without a listener an outage would crash the process.
		this.client.on("error", () => undefined);
		this.client.defineCommand("colonyIncrement", { numberOfKeys: 1, lua: INCREMENT_SCRIPT });
	}

	async set(key: string, value: string, ttlMs: number): Promise<void> {
		await this.client.set(this.prefix + key, value, "PX", Math.max(1, Math.ceil(ttlMs)));
	}

	async get(key: string): Promise<string | null> {
		return this.client.get(this.prefix + key);
	}

	async increment(key: string, windowMs: number): Promise<{ count: number; ttlMs: number }> {
		const run = (this.client as unknown as {
			colonyIncrement(key: string, windowMs: number): Promise<[number, number]>;
		}).colonyIncrement;
		const [count, ttlMs] = await run.call(this.client, this.prefix + key, windowMs);
		return { count, ttlMs };
	}

	async delete(key: string): Promise<void> {
		await this.client.del(this.prefix + key);
	}

	isReady(): boolean {
		return this.client.status === "ready";
	}

	async close(): Promise<void> {
		this.client.disconnect();
	}
}

export function createKeyValueStore(redisUrl: string | undefined, prefix?: string): KeyValueStore {
	return redisUrl ? new RedisStore(redisUrl, prefix) : new MemoryStore();
}

import type { PresenceStatus } from "../../types/contract";
import { RedisConnection } from "./redis";

/**
 * Who is connected. Each gateway holds a lease per user it has sockets for and renews it on a heartbeat; a
 * user is online while any lease is live. A crashed gateway stops renewing, so its users go offline when
 * their leases expire.
 */
export interface PresenceStore {
	hold(userId: number, holder: string, ttlMs: number): Promise<void>;
	release(userId: number, holder: string): Promise<void>;
	setAway(userId: number, away: boolean, ttlMs: number): Promise<void>;
	statusOf(userIds: number[]): Promise<Record<number, PresenceStatus>>;
	/**
	 * Users who were online and whose every lease has run out (their gateway crashed). Each such user is
	 * returned to one caller only, whichever gateway sweeps first, so the change is announced once.
	 */
	sweepExpired(): Promise<number[]>;
	close(): Promise<void>;
}

export class MemoryPresenceStore implements PresenceStore {
	private readonly leases = new Map<number, Map<string, number>>();
	private readonly away = new Map<number, number>();

	async hold(userId: number, holder: string, ttlMs: number): Promise<void> {
		const leases = this.leases.get(userId) ?? new Map<string, number>();
		leases.set(holder, Date.now() + ttlMs);
		this.leases.set(userId, leases);
	}

	async release(userId: number, holder: string): Promise<void> {
		const leases = this.leases.get(userId);
		leases?.delete(holder);
		// Released, not expired: the gateway announces this one itself.
		if (leases?.size === 0) this.leases.delete(userId);
	}

	async setAway(userId: number, away: boolean, ttlMs: number): Promise<void> {
		if (away) this.away.set(userId, Date.now() + ttlMs);
		else this.away.delete(userId);
	}

	async statusOf(userIds: number[]): Promise<Record<number, PresenceStatus>> {
		const now = Date.now();
		const result: Record<number, PresenceStatus> = {};
		for (const userId of userIds) {
			const live = [...(this.leases.get(userId)?.values() ?? [])].some((expiresAt) => expiresAt > now);
			const away = (this.away.get(userId) ?? 0) > now;
			result[userId] = live ? (away ? "away" : "online") : "offline";
		}
		return result;
	}

	async sweepExpired(): Promise<number[]> {
		const now = Date.now();
		const expired: number[] = [];
		for (const [userId, leases] of this.leases) {
			for (const [holder, expiresAt] of leases) if (expiresAt <= now) leases.delete(holder);
			if (leases.size === 0) {
				this.leases.delete(userId);
				expired.push(userId);
			}
		}
		return expired;
	}

	async close(): Promise<void> {
		this.leases.clear();
	}
}

/** Presence in Redis, shared by every gateway; while Redis cannot be reached every status is `unknown`. */
export class RedisPresenceStore implements PresenceStore {
	constructor(
		private readonly redis: RedisConnection,
		private readonly prefix: string,
	) {}

	async hold(userId: number, holder: string, ttlMs: number): Promise<void> {
		const key = this.leaseKey(userId);
		await this.redis.run((client) =>
			client.multi().zadd(key, Date.now() + ttlMs, holder).pexpire(key, ttlMs).sadd(this.onlineKey(), String(userId)).exec(),
		);
	}

	async release(userId: number, holder: string): Promise<void> {
		const key = this.leaseKey(userId);
		await this.redis.run(async (client) => {
			await client.zrem(key, holder);
			if ((await client.zcount(key, Date.now(), "+inf")) === 0) await client.srem(this.onlineKey(), String(userId));
		});
	}

	async sweepExpired(): Promise<number[]> {
		return this.redis.run(async (client) => {
			const online = (await client.smembers(this.onlineKey())).map(Number);
			const statuses = await this.statusOf(online);
			const expired: number[] = [];
			for (const userId of online) {
				// SREM answers 1 to one sweeper only: that gateway announces the change.
				if (statuses[userId] === "offline" && (await client.srem(this.onlineKey(), String(userId))) === 1) expired.push(userId);
			}
			return expired;
		});
	}

	async setAway(userId: number, away: boolean, ttlMs: number): Promise<void> {
		await this.redis.run(async (client) => {
			if (away) await client.set(this.awayKey(userId), "1", "PX", ttlMs);
			else await client.del(this.awayKey(userId));
		});
	}

	async statusOf(userIds: number[]): Promise<Record<number, PresenceStatus>> {
		if (userIds.length === 0) return {};
		const now = Date.now();
		let replies: [Error | null, unknown][];
		try {
			replies = await this.redis.run(async (client) => {
				const pipeline = client.pipeline();
				for (const userId of userIds) {
					pipeline.zcount(this.leaseKey(userId), now, "+inf");
					pipeline.exists(this.awayKey(userId));
				}
				return (await pipeline.exec()) ?? [];
			});
		} catch {
			return Object.fromEntries(userIds.map((userId) => [userId, "unknown" as const]));
		}
		const result: Record<number, PresenceStatus> = {};
		userIds.forEach((userId, i) => {
			const live = Number(replies[2 * i]?.[1] ?? 0) > 0;
			const away = Number(replies[2 * i + 1]?.[1] ?? 0) > 0;
			result[userId] = live ? (away ? "away" : "online") : "offline";
		});
		return result;
	}

	async close(): Promise<void> {
		this.redis.close();
	}

	private leaseKey(userId: number): string {
		return `${this.prefix}presence:${userId}`;
	}

	private onlineKey(): string {
		return `${this.prefix}presence:online`;
	}

	private awayKey(userId: number): string {
		return `${this.prefix}presence:away:${userId}`;
	}
}

export function createPresenceStore(redis: RedisConnection | undefined, prefix: string): PresenceStore {
	return redis ? new RedisPresenceStore(redis, prefix) : new MemoryPresenceStore();
}

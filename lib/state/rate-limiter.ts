import type { KeyValueStore } from "./kv-store";

export interface RateLimitDecision {
	allowed: boolean;
	limit: number;
	remaining: number;
	/** Seconds until the window resets. */
	resetSeconds: number;
}

/**
 * A fixed window per key that opens with the key's first request. Counters live in the shared store, so
 * every gateway node counts against the same budget.
 */
export class RateLimiter {
	constructor(
		private readonly store: KeyValueStore,
		private readonly limit: number,
		private readonly windowMs = 60_000,
	) {}

	async consume(key: string): Promise<RateLimitDecision> {
		const { count, ttlMs } = await this.store.increment(`ratelimit:${key}`, this.windowMs);
		return {
			allowed: count <= this.limit,
			limit: this.limit,
			remaining: Math.max(0, this.limit - count),
			resetSeconds: Math.max(1, Math.ceil(ttlMs / 1000)),
		};
	}
}

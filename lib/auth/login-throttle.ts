/** How failed sign-ins slow down whoever keeps failing. */
export interface ThrottlePolicy {
	/** Failures allowed before any wait. */
	freeAttempts: number;
	/** The first wait; each further failure doubles it. */
	baseDelayMs: number;
	maxDelayMs: number;
	/** Failures older than this are forgotten. */
	forgetAfterMs: number;
}

/** How long to wait after this many failures in a row: nothing at first, then doubling waits up to a ceiling. */
export function delayAfter(failures: number, policy: ThrottlePolicy): number {
	if (failures < policy.freeAttempts) return 0;
	return Math.min(policy.baseDelayMs * 2 ** Math.min(failures - policy.freeAttempts, 30), policy.maxDelayMs);
}

interface Failures {
	count: number;
	lastAt: number;
	blockedUntil: number;
}

/**
 * Failed sign-ins per key (an address, a login name that matches no account), in this process's memory: growing
 * waits for whoever keeps guessing. Bounded: the oldest keys go first when it is full.
 */
export class FailureThrottle {
	private readonly failures = new Map<string, Failures>();

	constructor(
		private readonly policy: ThrottlePolicy,
		private readonly capacity = 100_000,
	) {}

	/** Milliseconds until `key` may try again; 0 when it may now. */
	waitFor(key: string, now = Date.now()): number {
		const entry = this.live(key, now);
		return entry ? Math.max(0, entry.blockedUntil - now) : 0;
	}

	recordFailure(key: string, now = Date.now()): void {
		const entry = this.live(key, now) ?? { count: 0, lastAt: now, blockedUntil: 0 };
		entry.count += 1;
		entry.lastAt = now;
		entry.blockedUntil = now + delayAfter(entry.count, this.policy);
		this.failures.delete(key);
		if (this.failures.size >= this.capacity) this.failures.delete(this.failures.keys().next().value!);
		this.failures.set(key, entry);
	}

	forget(key: string): void {
		this.failures.delete(key);
	}

	private live(key: string, now: number): Failures | undefined {
		const entry = this.failures.get(key);
		if (entry && now - entry.lastAt > this.policy.forgetAfterMs) {
			this.failures.delete(key);
			return undefined;
		}
		return entry;
	}
}

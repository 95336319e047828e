/** Thrown when one user already has as many requests waiting as they may. */
export class QueueFullError extends Error {
	constructor(readonly queued: number) {
		super(`${queued} requests already waiting`);
	}
}

interface Waiter {
	grant: () => void;
	cancel: (reason: Error) => void;
}

/**
 * The slots of one GPU host, shared fairly: at most `slots` requests run at once, and when all are busy the
 * waiting requests are served one user at a time in turn, so one user's hundred queued requests hold another
 * user's single request back by at most one request's time. A user may have at most `maxQueuedPerUser` waiting.
 */
export class FairQueue {
	private running = 0;
	/** Each user's waiting requests, oldest first; users in the order they are next served. */
	private readonly waiting = new Map<string, Waiter[]>();

	constructor(private slots: number) {}

	get inFlight(): number {
		return this.running;
	}

	get queued(): number {
		let count = 0;
		for (const list of this.waiting.values()) count += list.length;
		return count;
	}

	queuedFor(user: string): number {
		return this.waiting.get(user)?.length ?? 0;
	}

	resize(slots: number): void {
		this.slots = slots;
		this.dispatch();
	}

	/**
	 * Resolves when a slot is the caller's, with the function that gives it back (call it exactly once). Rejects
	 * with QueueFullError at once, or with `signal`'s reason if it is aborted while waiting.
	 */
	acquire(user: string, maxQueuedPerUser: number, signal?: AbortSignal): Promise<() => void> {
		if (this.running < this.slots && this.waiting.size === 0) {
			this.running += 1;
			return Promise.resolve(this.releaser());
		}
		const queued = this.queuedFor(user);
		if (queued >= maxQueuedPerUser) return Promise.reject(new QueueFullError(queued));
		return new Promise((resolve, reject) => {
			const waiter: Waiter = {
				grant: () => {
					signal?.removeEventListener("abort", onAbort);
					resolve(this.releaser());
				},
				cancel: reject,
			};
			const onAbort = () => {
				this.remove(user, waiter);
				reject(signal?.reason instanceof Error ? signal.reason : new Error("Aborted while waiting"));
			};
			signal?.addEventListener("abort", onAbort, { once: true });
			const list = this.waiting.get(user);
			if (list) list.push(waiter);
			else this.waiting.set(user, [waiter]);
		});
	}

	/** Refuses everything waiting, e.g. when the node stops. */
	cancelAll(reason: Error): void {
		for (const list of this.waiting.values()) for (const waiter of list) waiter.cancel(reason);
		this.waiting.clear();
	}

	private releaser(): () => void {
		let released = false;
		return () => {
			if (released) return;
			released = true;
			this.running -= 1;
			this.dispatch();
		};
	}

	private dispatch(): void {
		while (this.running < this.slots && this.waiting.size > 0) {
			// Map order is the turn order: the first user is served, then moves to the back if more remain.
			const [user, list] = this.waiting.entries().next().value!;
			const waiter = list.shift()!;
			this.waiting.delete(user);
			if (list.length > 0) this.waiting.set(user, list);
			this.running += 1;
			waiter.grant();
		}
	}

	private remove(user: string, waiter: Waiter): void {
		const list = this.waiting.get(user);
		if (!list) return;
		const index = list.indexOf(waiter);
		if (index >= 0) list.splice(index, 1);
		if (list.length === 0) this.waiting.delete(user);
	}
}

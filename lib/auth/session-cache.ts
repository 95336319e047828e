/**
 * Who a user is and what they may do, kept by each gateway for a short while so a request needs no call to the
 * users service; dropped at once when the users service announces a change of that user.
 */
export class SessionCache<Session> {
	private readonly entries = new Map<number, { session: Session; expiresAt: number }>();
	private readonly loading = new Map<number, Promise<Session>>();
	/** Bumped by `forget`: an answer loaded before a change must not be kept after it. */
	private readonly epochs = new Map<number, number>();

	constructor(
		private readonly ttlMs: number,
		private readonly capacity = 50_000,
	) {}

	/** The cached session, or the one `load` answers (one load at a time per user, however many ask). */
	async get(userId: number, load: (userId: number) => Promise<Session>, now = Date.now()): Promise<Session> {
		const entry = this.entries.get(userId);
		if (entry && entry.expiresAt > now) return entry.session;
		const pending = this.loading.get(userId);
		if (pending) return pending;
		const epoch = this.epochs.get(userId) ?? 0;
		const loaded = load(userId).then(
			(session) => {
				this.loading.delete(userId);
				if ((this.epochs.get(userId) ?? 0) === epoch) this.keep(userId, session, Date.now());
				return session;
			},
			(err: unknown) => {
				this.loading.delete(userId);
				throw err;
			},
		);
		this.loading.set(userId, loaded);
		return loaded;
	}

	forget(userId: number): void {
		this.entries.delete(userId);
		this.loading.delete(userId);
		this.epochs.set(userId, (this.epochs.get(userId) ?? 0) + 1);
	}

	clear(): void {
		for (const userId of [...this.entries.keys(), ...this.loading.keys()]) this.forget(userId);
	}

	private keep(userId: number, session: Session, now: number): void {
		// Maps keep insertion order: the oldest entry goes first when full.
		if (this.entries.size >= this.capacity && !this.entries.has(userId)) {
			const oldest = this.entries.keys().next().value;
			if (oldest !== undefined) {
				this.entries.delete(oldest);
				this.epochs.delete(oldest);
			}
		}
		this.entries.set(userId, { session, expiresAt: now + this.ttlMs });
	}
}

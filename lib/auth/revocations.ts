/** A signed-in session that was ended (logout, a reused refresh token): its access tokens stop working. */
export interface Revocation {
	/** Increasing, so a node can ask for the ones after the last it knows. */
	id: number;
	sessionId: string;
	userId: number;
	/** Epoch ms after which no access token of the session can be alive any more. */
	expiresAt: number;
	reason: string;
}

/**
 * The ended sessions a gateway knows, in memory, so checking a token costs no network round trip. Filled from
 * the users service when the gateway starts, kept current by events, and compared against the users service
 * periodically in case an event was lost. Entries drop out once every token they could stop has expired.
 */
export class RevocationList {
	private readonly sessions = new Map<string, Revocation>();
	private lastId = 0;
	private loaded = false;

	/** Whether the list was read from the users service at least once: before that it proves nothing. */
	get ready(): boolean {
		return this.loaded;
	}

	/** The id of the newest revocation known, to ask for the ones after it. */
	get cursor(): number {
		return this.lastId;
	}

	add(revocations: Revocation[], now = Date.now()): Revocation[] {
		const added: Revocation[] = [];
		for (const revocation of revocations) {
			this.lastId = Math.max(this.lastId, revocation.id);
			if (revocation.expiresAt <= now || this.sessions.has(revocation.sessionId)) continue;
			this.sessions.set(revocation.sessionId, revocation);
			added.push(revocation);
		}
		return added;
	}

	markLoaded(): void {
		this.loaded = true;
	}

	isRevoked(sessionId: string): boolean {
		return this.sessions.has(sessionId);
	}

	prune(now = Date.now()): void {
		for (const [sessionId, revocation] of this.sessions) if (revocation.expiresAt <= now) this.sessions.delete(sessionId);
	}

	get size(): number {
		return this.sessions.size;
	}
}

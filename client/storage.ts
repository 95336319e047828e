/** A value now or later: browsers' localStorage answers at once, React Native's AsyncStorage with a promise. */
export type MaybePromise<T> = T | Promise<T>;

/** The signed-in session the REST client keeps. */
export interface StoredSession {
	accessToken: string;
	refreshToken: string;
	/** When the access token expires, in epoch milliseconds of the client's clock. */
	accessTokenExpiresAt: number;
	/** The access token's lifetime in seconds, as the server gave it. */
	expiresIn: number;
}

/** Where the REST client keeps its tokens; pass one backed by secure storage to survive app restarts. */
export interface TokenStorage {
	get(): MaybePromise<StoredSession | null>;
	set(session: StoredSession): MaybePromise<void>;
	clear(): MaybePromise<void>;
}

export class MemoryTokenStorage implements TokenStorage {
	private session: StoredSession | null = null;

	get(): StoredSession | null {
		return this.session;
	}

	set(session: StoredSession): void {
		this.session = { ...session };
	}

	clear(): void {
		this.session = null;
	}
}

/**
 * Where the socket bridge keeps messages not yet acknowledged by the server. The method names are those of
 * React Native's AsyncStorage and the browser's localStorage, so either can be passed as it is.
 */
export interface OutboxStorage {
	getItem(key: string): MaybePromise<string | null>;
	setItem(key: string, value: string): MaybePromise<void>;
}

export class MemoryOutboxStorage implements OutboxStorage {
	private readonly values = new Map<string, string>();

	getItem(key: string): string | null {
		return this.values.get(key) ?? null;
	}

	setItem(key: string, value: string): void {
		this.values.set(key, value);
	}
}

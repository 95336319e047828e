import type { StoredSession, TokenStorage } from "@colony/client";

const KEY = "colony.session";

interface Persisted {
	refreshToken: string;
	expiresIn: number;
}

/**
 * The web app's token storage. The access token lives in this tab's memory only; what is written to localStorage is
 * the refresh token, the one thing needed to restore a session after a reload or in another tab. Tabs refresh
 * under a shared lock (see `refreshLock`), each reading the newest refresh token first. A strict CSP (no inline or
 * foreign script) is what keeps injected script from reading it.
 */
export class BrowserTokenStorage implements TokenStorage {
	private access: { token: string; expiresAt: number; forRefresh: string } | null = null;

	get(): StoredSession | null {
		const persisted = read();
		if (!persisted) return null;
		const access = this.access?.forRefresh === persisted.refreshToken ? this.access : null;
		return {
			refreshToken: persisted.refreshToken,
			expiresIn: persisted.expiresIn,
			// Without an access token of its own, this tab refreshes before its first call.
			accessToken: access?.token ?? "",
			accessTokenExpiresAt: access?.expiresAt ?? 0,
		};
	}

	set(session: StoredSession): void {
		this.access = { token: session.accessToken, expiresAt: session.accessTokenExpiresAt, forRefresh: session.refreshToken };
		localStorage.setItem(KEY, JSON.stringify({ refreshToken: session.refreshToken, expiresIn: session.expiresIn } satisfies Persisted));
	}

	clear(): void {
		this.access = null;
		localStorage.removeItem(KEY);
	}

	/** Calls `onSignedOut` when another tab signs out. */
	watch(onSignedOut: () => void): () => void {
		const listener = (event: StorageEvent) => {
			if (event.key === KEY && event.newValue === null) onSignedOut();
		};
		window.addEventListener("storage", listener);
		return () => window.removeEventListener("storage", listener);
	}
}

function read(): Persisted | null {
	try {
		const raw = localStorage.getItem(KEY);
		const parsed = raw ? (JSON.parse(raw) as Partial<Persisted>) : null;
		return parsed && typeof parsed.refreshToken === "string" && typeof parsed.expiresIn === "number" ? { refreshToken: parsed.refreshToken, expiresIn: parsed.expiresIn } : null;
	} catch {
		return null;
	}
}

/** One refresh at a time across this browser's tabs; in a browser without Web Locks, one per tab. */
export function refreshLock<T>(work: () => Promise<T>): Promise<T> {
	return navigator.locks ? (navigator.locks.request("colony-token-refresh", work) as Promise<T>) : work();
}

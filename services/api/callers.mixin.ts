import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { UnauthorizedError } from "../../broker/errors";
import { registerReadinessProbe, unregisterReadinessProbe } from "../../broker/readiness";
import { RevocationList, type Revocation } from "../../lib/auth/revocations";
import { SessionCache } from "../../lib/auth/session-cache";
import { AccessTokens, TokenError, type AccessTokenClaims } from "../../lib/auth/tokens";
import { loadSecrets } from "../../lib/config";
import type { SessionChangedEvent, SessionRevokedEvent, SessionUser } from "../../types/users";

type Session = Omit<SessionUser, "tokenId" | "tokenExpiresAt" | "sessionId">;

/** How long a gateway trusts what it holds of a user when no change was announced (a lost event heals by then). */
const SESSION_TTL_MS = 60_000;
/** How often a gateway compares its revocations with the users service, in case an announcement was lost. */
const REVOCATION_SYNC_MS = 5_000;

export interface CallersState {
	tokens: AccessTokens;
	revocations: RevocationList;
	sessions: SessionCache<Session>;
	revocationSync: NodeJS.Timeout;
	syncing: Promise<void> | null;
}

export interface CallersMethods {
	resolveCaller(token: string): Promise<SessionUser>;
	verifyToken(token: string): AccessTokenClaims;
	callerOf(claims: AccessTokenClaims): Promise<SessionUser>;
	syncRevocations(): Promise<void>;
	/** Given by the service that mixes this in: what else ends with a session (the socket gateway drops its sockets). */
	sessionEnded?(revocation: Revocation): void;
}

/**
 * Who is calling, decided on the gateway itself: the access token is verified here, checked against the ended
 * sessions this gateway keeps in memory (loaded from the users service, pushed by it, compared with it every few
 * seconds), and the user's roles come from a short-lived cache that the users service empties on every change.
 * A request costs no network round trip to authenticate, and a logout still stops the token everywhere at once.
 */
export const CallersMixin: Partial<ServiceSchema<ServiceSettingSchema, CallersMethods, CallersState>> = {
	events: {
		"users.session.revoked"(ctx: Context<SessionRevokedEvent>) {
			for (const revocation of this.revocations.add([ctx.params.revocation])) this.sessionEnded?.(revocation);
		},

		"users.session.changed"(ctx: Context<SessionChangedEvent>) {
			this.sessions.forget(ctx.params.userId);
		},

		// A users node that (re)joins may hold revocations this gateway missed while apart.
		"$node.connected"() {
			void this.syncRevocations();
		},

		"$services.changed"() {
			if (!this.revocations.ready) void this.syncRevocations();
		},
	},

	methods: {
		async resolveCaller(token: string): Promise<SessionUser> {
			const claims = this.verifyToken(token);
			// Until the list was loaded once it proves nothing: the users service checks the token itself.
			if (!this.revocations.ready) {
				void this.syncRevocations();
				return this.broker.call<SessionUser, { token: string }>("users.resolveToken", { token });
			}
			if (this.revocations.isRevoked(claims.sessionId)) throw new UnauthorizedError("Access token was revoked", "TOKEN_REVOKED");
			return this.callerOf(claims);
		},

		verifyToken(token: string): AccessTokenClaims {
			try {
				return this.tokens.verify(token);
			} catch (err) {
				if (err instanceof TokenError && err.problem === "expired") throw new UnauthorizedError("Access token has expired", "TOKEN_EXPIRED");
				throw new UnauthorizedError("Access token is not valid", "INVALID_TOKEN");
			}
		},

		async callerOf(claims: AccessTokenClaims): Promise<SessionUser> {
			const session = await this.sessions.get(claims.userId, async (userId) => {
				const found = await this.broker.call<Session | null, { id: number }>("users.session", { id: userId });
				if (!found) throw new UnauthorizedError("The account no longer exists", "INVALID_TOKEN");
				return found;
			});
			return { ...session, tokenId: claims.jti, tokenExpiresAt: claims.exp, sessionId: claims.sessionId };
		},

		syncRevocations(): Promise<void> {
			// Before a users node has joined there is nobody to ask (and Moleculer would warn at every try).
			if (!this.broker.registry.getActionEndpoints("users.revocations")?.hasAvailable()) return Promise.resolve();
			this.syncing ??= (async () => {
				try {
					for (;;) {
						const { items } = await this.broker.call<{ items: Revocation[] }, { after: number }>("users.revocations", {
							after: this.revocations.cursor,
						});
						for (const revocation of this.revocations.add(items)) this.sessionEnded?.(revocation);
						if (items.length < 1000) break;
					}
					this.revocations.markLoaded();
					this.revocations.prune();
				} catch (err) {
					if (this.revocations.ready) this.logger.warn("Revocations could not be compared with the users service:", (err as Error).message);
				} finally {
					this.syncing = null;
				}
			})();
			return this.syncing;
		},
	},

	created() {
		this.tokens = new AccessTokens(loadSecrets().jwtSecret);
		this.revocations = new RevocationList();
		this.sessions = new SessionCache(SESSION_TTL_MS);
		this.syncing = null;
	},

	started() {
		registerReadinessProbe(this.broker, "revocations", () => this.revocations.ready);
		this.revocationSync = setInterval(() => void this.syncRevocations(), REVOCATION_SYNC_MS);
		this.revocationSync.unref();
		void this.syncRevocations();
	},

	stopped() {
		clearInterval(this.revocationSync);
		unregisterReadinessProbe(this.broker, "revocations");
	},
};

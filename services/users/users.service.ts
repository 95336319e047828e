import { Errors, type Context, type ServiceSchema, type ServiceSettingSchema } from "moleculer";
import { randomUUID } from "node:crypto";
import { Op, UniqueConstraintError, type Transaction } from "sequelize";
import { ConflictError, ForbiddenError, NotFoundError, ServiceBusyError, TooManyRequestsError, UnauthorizedError } from "../../broker/errors";
import { delayAfter, FailureThrottle, type ThrottlePolicy } from "../../lib/auth/login-throttle";
import { judgePassword } from "../../lib/auth/password-strength";
import { DEFAULT_PASSWORD_COST, PasswordHasher, PasswordWorkBusyError, type PasswordHashCost } from "../../lib/auth/passwords";
import { permissionsOf, ROLES, type Role } from "../../lib/auth/permissions";
import type { Revocation } from "../../lib/auth/revocations";
import { DEFAULT_AI_POLICY, type AiPolicy, type AiRolePolicy } from "../../types/ai";
import { ACCESS_TOKEN_TTL_SECONDS, AccessTokens, REFRESH_TOKEN_TTL_SECONDS, TokenError } from "../../lib/auth/tokens";
import { loadSecrets } from "../../lib/config";
import { FieldCipher, randomToken, sha256Hex } from "../../lib/crypto/field-cipher";
import { openWithSecret, sealWithSecret } from "../../lib/crypto/secret-box";
import { idParam, PLAIN_TEXT, PRINTABLE } from "../../lib/validation";
import { createDbMixin, type DbServiceThis, type DbSettings } from "../../mixins/db.mixin";
import type {
	CallerMeta,
	PublicUser,
	AssistantAccount,
	RoleChange,
	RequestMeta,
	UserContact,
	SessionUser,
	SessionChangedEvent,
	SessionRevokedEvent,
	TokenPair,
	UserCreatedEvent,
	UserRolesChangedEvent,
} from "../../types/users";
import { ensureAssistantAccount, isAssistantRow } from "./assistant";
import { usersMigrations } from "./migrations";
import { defineUsersTables, type RefreshTokenRow, type UserRow, type UsersTables } from "./tables";
import { decodeCursor, encodeCursor, mayReadEmail, parseRoles, toPublicUser, type ProfileRow } from "./views";

export interface UsersSettings extends ServiceSettingSchema, DbSettings {
	passwordCost: PasswordHashCost;
	/** Failed sign-ins per account (kept in the database) and per address (per node) before growing waits. */
	loginThrottle: { account: ThrottlePolicy; address: ThrottlePolicy };
	accessTokenTtlSeconds: number;
	refreshTokenTtlSeconds: number;
}

interface UsersState {
	cipher: FieldCipher;
	tokens: AccessTokens;
	hasher: PasswordHasher;
	/** Failed sign-ins per client address, and per login name that matches no account (so both look alike). */
	addressFailures: FailureThrottle;
	unknownLoginFailures: FailureThrottle;
	/** Verified against when no user matches a login, so unknown names take as long as wrong passwords. */
	decoyHash: string;
	assistantAccount: AssistantAccount;
}

interface UsersMethods {
	publicUser(row: ProfileRow, showEmail: boolean): PublicUser;
	findByLogin(login: string): Promise<UserRow | null>;
	requireUser(id: number): Promise<UserRow>;
	issueTokens(userId: number, familyId: string, transaction?: Transaction): Promise<TokenPair>;
	rotateRefreshToken(presented: string, requestId: string | null): Promise<RotationOutcome>;
	claimFirstAdmin(userId: number, transaction: Transaction): Promise<boolean>;
	checkPassword(hash: string, password: string): Promise<boolean>;
	signInWaitMs(row: UserRow | null, login: string, address: string | undefined): number;
	recordFailedSignIn(row: UserRow | null, login: string, address: string | undefined): Promise<void>;
	revokeSession(sessionId: string, userId: number, reason: string): Promise<void>;
	changeRoles(ctx: Context, target: { id: number } | { username: string }, rolesAfter: (before: Role[]) => Role[], changedBy: number | null): Promise<RoleChange>;
}

type RotationOutcome =
	| { kind: "issued" | "replayed"; tokens: TokenPair }
	| { kind: "refused"; message: string; type: string }
	| { kind: "reused"; token: RefreshTokenRow };

type Session = Omit<SessionUser, "tokenId" | "tokenExpiresAt" | "sessionId">;

/** How long the request that rotated a refresh token may be retried and get the same answer. */
const REFRESH_REPLAY_WINDOW_MS = 60_000;
const SUCCESSOR_PURPOSE = "refresh-successor";
const USERNAME_PATTERN = /^[a-z0-9_.-]+$/;

/** Accounts, passwords, tokens and roles (DESIGN §3). */
const UsersService: ServiceSchema<UsersSettings, UsersMethods, UsersState & DbServiceThis<UsersTables>> = {
	name: "users",
	mixins: [createDbMixin({ database: "users", migrations: usersMigrations, defineTables: defineUsersTables })],

	settings: {
		rest: "/",
		passwordCost: DEFAULT_PASSWORD_COST,
		loginThrottle: {
			account: { freeAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 15 * 60_000, forgetAfterMs: 15 * 60_000 },
			address: { freeAttempts: 20, baseDelayMs: 1_000, maxDelayMs: 15 * 60_000, forgetAfterMs: 15 * 60_000 },
		},
		accessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS,
		refreshTokenTtlSeconds: REFRESH_TOKEN_TTL_SECONDS,
	},

	actions: {
		register: {
			rest: "POST /auth/register",
			access: "public",
			idempotent: false,
			params: {
				$$strict: true,
				username: { type: "string", trim: true, lowercase: true, min: 3, max: 32, pattern: USERNAME_PATTERN },
				email: { type: "email", normalize: true, max: 254 },
				password: { type: "string", min: 10, max: 256 },
				displayName: { type: "string", trim: true, min: 1, max: 64, pattern: PLAIN_TEXT, optional: true },
			},
			async handler(ctx: Context<{ username: string; email: string; password: string; displayName?: string }, RequestMeta>,
			): Promise<{ user: PublicUser }> {
				const { username, email, password, displayName } = ctx.params;
				const judgement = judgePassword(password, [username, email, displayName ?? ""]);
				if (!judgement.strong) {
					throw new Errors.ValidationError("The password is too easy to guess", "VALIDATION_ERROR", [
						{
							field: "password",
							type: "passwordStrength",
							message: `The password is too easy to guess${judgement.warning ? `: ${judgement.warning}` : ""}. Use a longer phrase of uncommon words.`,
						},
					]);
				}
				let passwordHash: string;
				try {
					passwordHash = await this.hasher.hash(password);
				} catch (err) {
					if (err instanceof PasswordWorkBusyError) throw new ServiceBusyError("Too many sign-ups and sign-ins at once, try again in a moment", 1, "SIGN_IN_BUSY");
					throw err;
				}
				let row: UserRow;
				try {
					row = await this.transaction(async (transaction) => {
						const created = (
							await this.tables.users.create(
								{
									username,
									displayName: displayName ?? username,
									emailCiphertext: this.cipher.encrypt(email, "users.email"),
									emailIndex: this.cipher.blindIndex(email),
									passwordHash,
									roles: "member",
								},
								{ transaction },
							)
						).get({ plain: true });
						if (await this.claimFirstAdmin(created.id, transaction)) {
							await this.tables.users.update({ roles: "admin" }, { where: { id: created.id }, transaction });
							created.roles = "admin";
						}
						return created;
					});
				} catch (err) {
					if (err instanceof UniqueConstraintError) {
						throw new ConflictError("That username or email is already registered", "USER_EXISTS");
					}
					throw err;
				}
				// No cache to clean: nothing cached depends on who else is registered.
				const user = this.publicUser(row, true);
				ctx.emit<UserCreatedEvent>("users.user.created", { user });
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/v1/users/${user.id}`;
				return { user };
			},
		},

		login: {
			rest: "POST /auth/login",
			access: "public",
			// A repeat signs in again: a second session, harmless but not the same answer.
			idempotent: false,
			params: {
				$$strict: true,
				username: { type: "string", trim: true, min: 1, max: 254, pattern: PRINTABLE, optional: true },
				email: { type: "string", trim: true, min: 1, max: 254, pattern: PRINTABLE, optional: true },
				password: { type: "string", min: 1, max: 256 },
			},
			async handler(ctx: Context<{ username?: string; email?: string; password: string }, RequestMeta>,
			): Promise<TokenPair & { user: PublicUser }> {
				const login = ctx.params.username ?? ctx.params.email;
				if (!login) {
					throw new Errors.ValidationError("username or email is required", "VALIDATION_ERROR", [
						{ field: "username", type: "required", message: "Give 'username' (a username or an email) or 'email'." },
					]);
				}
				const address = ctx.meta.$client?.ip;
				const row = await this.findByLogin(login);
				// A guesser waiting out a delay is refused before the password is even looked at, right or not.
				const waitMs = this.signInWaitMs(row, login, address);
				if (waitMs > 0) {
					throw new TooManyRequestsError(Math.ceil(waitMs / 1000), "Too many failed sign-ins: wait before trying again", "LOGIN_THROTTLED");
				}
				if (!row || !(await this.checkPassword(row?.passwordHash ?? this.decoyHash, ctx.params.password))) {
					await this.recordFailedSignIn(row, login, address);
					throw new UnauthorizedError("Wrong username, email or password", "INVALID_CREDENTIALS");
				}
				if (row.failedLogins > 0) {
					await this.tables.users.update({ failedLogins: 0, lastFailedLoginAt: null, loginBlockedUntil: null }, { where: { id: row.id } });
				}
				const tokens = await this.issueTokens(row.id, randomUUID());
				return { ...tokens, user: this.publicUser(row, true) };
			},
		},

		refresh: {
			rest: "POST /auth/refresh",
			access: "public",
			// A retry carries the request id of the first attempt, and that request gets its answer again.
			idempotent: true,
			params: { $$strict: true, refreshToken: { type: "string", min: 1, max: 512 } },
			async handler(ctx: Context<{ refreshToken: string }, RequestMeta>): Promise<TokenPair> {
				const outcome = await this.rotateRefreshToken(ctx.params.refreshToken, ctx.requestID ?? null);
				switch (outcome.kind) {
					case "issued":
					case "replayed":
						return outcome.tokens;
					case "refused":
						throw new UnauthorizedError(outcome.message, outcome.type);
					case "reused":
						await this.revokeSession(outcome.token.familyId, outcome.token.userId, "Session revoked: its refresh token was used twice");
						this.logger.warn(`Refresh token reuse detected for user ${outcome.token.userId}: session family revoked`);
						throw new UnauthorizedError(
							"Refresh token was already used: every session of this login was signed out",
							"REFRESH_TOKEN_REUSED",
						);
				}
			},
		},

		logout: {
			rest: "POST /auth/logout",
			access: "user",
			idempotent: true,
			params: { $$strict: true, refreshToken: { type: "string", min: 1, max: 512, optional: true } },
			async handler(ctx: Context<{ refreshToken?: string }, CallerMeta>): Promise<null> {
				const caller = ctx.meta.user;
				// Signing out ends the session the access token belongs to: every token of it, on every socket.
				await this.revokeSession(caller.sessionId, caller.id, "Signed out");
				if (ctx.params.refreshToken) {
					const other = (
						await this.tables.refreshTokens.findOne({ where: { tokenHash: sha256Hex(ctx.params.refreshToken), userId: caller.id } })
					)?.get({ plain: true });
					if (other && other.familyId !== caller.sessionId) await this.revokeSession(other.familyId, caller.id, "Signed out");
				}
				ctx.meta.$statusCode = 204;
				return null;
			},
		},

		me: {
			rest: "GET /users/me",
			access: "user",
			socket: true,
			idempotent: true,
			params: { $$strict: true },
			async handler(ctx: Context<unknown, CallerMeta>): Promise<PublicUser> {
				return this.publicUser(await ctx.call<ProfileRow, { id: number }>("users.profile", { id: ctx.meta.user.id }), true);
			},
		},

		get: {
			rest: "GET /users/:id",
			access: "users:read",
			socket: true,
			idempotent: true,
			params: { $$strict: true, id: idParam },
			async handler(ctx: Context<{ id: number }, CallerMeta>): Promise<PublicUser> {
				const profile = await ctx.call<ProfileRow, { id: number }>("users.profile", { id: ctx.params.id });
				return this.publicUser(profile, mayReadEmail(ctx.meta.user, ctx.params.id));
			},
		},

		list: {
			rest: "GET /users",
			access: "users:read",
			socket: true,
			idempotent: true,
			params: {
				$$strict: true,
				cursor: { type: "string", max: 64, optional: true },
				limit: { type: "number", integer: true, min: 1, max: 100, convert: true, default: 50 },
			},
			async handler(ctx: Context<{ cursor?: string; limit: number }, CallerMeta>,
			): Promise<{ items: PublicUser[]; nextCursor: string | null }> {
				const after = ctx.params.cursor ? decodeCursor(ctx.params.cursor) : 0;
				const rows = await this.tables.users.findAll({
					where: { id: { [Op.gt]: after } },
					order: [["id", "ASC"]],
					limit: ctx.params.limit + 1,
				});
				const page = rows.slice(0, ctx.params.limit).map((row) => row.get({ plain: true }));
				return {
					items: page.map((row) => this.publicUser(row, mayReadEmail(ctx.meta.user, row.id))),
					nextCursor: rows.length > ctx.params.limit ? encodeCursor(page[page.length - 1].id) : null,
				};
			},
		},

		setRoles: {
			rest: "PATCH /users/:id/roles",
			access: "users:admin",
			idempotent: true,
			params: {
				$$strict: true,
				id: idParam,
				roles: { type: "array", items: { type: "enum", values: [...ROLES] }, min: 1, max: ROLES.length, unique: true },
			},
			async handler(ctx: Context<{ id: number; roles: Role[] }, CallerMeta>): Promise<PublicUser> {
				const roles = ROLES.filter((role) => ctx.params.roles.includes(role));
				return (await this.changeRoles(ctx, { id: ctx.params.id }, () => roles, ctx.meta.user.id)).user;
			},
		},

		/**
		 * For operators (the REPL's `grant`): adds a role to a user found by username, under the rules of every
		 * role change. No one signed in makes it, so it is not open to clients; the log records the node it came from.
		 */
		grantRole: {
			visibility: "public",
			idempotent: true,
			params: {
				$$strict: true,
				username: { type: "string", trim: true, lowercase: true, min: 1, max: 32 },
				role: { type: "enum", values: [...ROLES] },
			},
			async handler(ctx: Context<{ username: string; role: Role }>): Promise<RoleChange> {
				const { username, role } = ctx.params;
				const change = await this.changeRoles(ctx, { username }, (before) => ROLES.filter((known) => known === role || before.includes(known)), null);
				const outcome = change.previousRoles.includes(role) ? "already had it" : `roles now ${change.user.roles.join(",")}`;
				this.logger.info(`Operator on node ${ctx.nodeID ?? "unknown"} granted role '${role}' to ${username} (user ${change.user.id}): ${outcome}`);
				return change;
			},
		},

		/** For other services: the account the AI assistant writes as. */
		assistant: {
			visibility: "public",
			idempotent: true,
			params: {},
			handler(): AssistantAccount {
				return this.assistantAccount;
			},
		},

		/** For the notifications service: where to write to a user (their email, opened here) and the name to use. */
		contact: {
			visibility: "public",
			idempotent: true,
			params: { id: idParam },
			async handler(ctx: Context<{ id: number }>): Promise<UserContact | null> {
				const row = (await this.tables.users.findByPk(ctx.params.id))?.get({ plain: true });
				if (!row || isAssistantRow(row)) return null;
				return { id: row.id, displayName: row.displayName, email: this.cipher.decrypt(row.emailCiphertext, "users.email") };
			},
		},

		/** For other services: ids of the given usernames (unknown names are left out), e.g. for @mentions. */
		resolveUsernames: {
			visibility: "public",
			idempotent: true,
			params: { usernames: { type: "array", items: { type: "string", max: 32 }, max: 100 } },
			async handler(ctx: Context<{ usernames: string[] }>): Promise<Record<string, number>> {
				const usernames = [...new Set(ctx.params.usernames.map((name) => name.toLowerCase()))];
				if (usernames.length === 0) return {};
				const rows = await this.tables.users.findAll({ where: { username: { [Op.in]: usernames } }, attributes: ["id", "username"] });
				return Object.fromEntries(rows.map((row) => row.get({ plain: true })).map((row) => [row.username, row.id]));
			},
		},

		/** For operators (the REPL's `chat-stats`, who is online): the ids of people's accounts, a page at a time. */
		accountIds: {
			visibility: "public",
			idempotent: true,
			params: {
				after: { type: "number", integer: true, min: 0, default: 0 },
				limit: { type: "number", integer: true, min: 1, max: 1_000, default: 1_000 },
			},
			async handler(ctx: Context<{ after: number; limit: number }>): Promise<{ ids: number[] }> {
				const rows = await this.tables.users.findAll({
					where: { id: { [Op.gt]: ctx.params.after, [Op.ne]: this.assistantAccount.id } },
					attributes: ["id"],
					order: [["id", "ASC"]],
					limit: ctx.params.limit,
				});
				return { ids: rows.map((row) => row.get({ plain: true }).id) };
			},
		},

		/** The caller a token stands for, checked against the database; gateways verify tokens themselves. */
		resolveToken: {
			visibility: "public",
			idempotent: true,
			params: { token: { type: "string", min: 1, max: 4096 } },
			async handler(ctx: Context<{ token: string }>): Promise<SessionUser> {
				let claims;
				try {
					claims = this.tokens.verify(ctx.params.token);
				} catch (err) {
					if (err instanceof TokenError && err.problem === "expired") {
						throw new UnauthorizedError("Access token has expired", "TOKEN_EXPIRED");
					}
					throw new UnauthorizedError("Access token is not valid", "INVALID_TOKEN");
				}
				if (await this.tables.sessionRevocations.findOne({ where: { sessionId: claims.sessionId }, attributes: ["id"] })) {
					throw new UnauthorizedError("Access token was revoked", "TOKEN_REVOKED");
				}
				const session = await ctx.call<Session | null, { id: number }>("users.session", { id: claims.userId });
				if (!session) throw new UnauthorizedError("The account no longer exists", "INVALID_TOKEN");
				return { ...session, tokenId: claims.jti, tokenExpiresAt: claims.exp, sessionId: claims.sessionId };
			},
		},

		/** For the ai service: what each role may do with the AI engine (defaults where an admin set nothing). */
		aiPolicyOf: {
			visibility: "public",
			idempotent: true,
			cache: { keys: [], ttl: 300 },
			async handler(): Promise<AiPolicy> {
				const policy: AiPolicy = structuredClone(DEFAULT_AI_POLICY);
				for (const row of await this.tables.aiPolicies.findAll()) {
					const { role, policy: stored } = row.get({ plain: true });
					if (role in policy) policy[role as keyof AiPolicy] = JSON.parse(stored) as AiRolePolicy;
				}
				return policy;
			},
		},

		getAiPolicy: {
			rest: "GET /ai/policy",
			access: "ai:admin",
			idempotent: true,
			params: { $$strict: true },
			handler(ctx: Context<unknown, CallerMeta>): Promise<AiPolicy> {
				return ctx.call<AiPolicy>("users.aiPolicyOf");
			},
		},

		setAiPolicy: {
			rest: "PUT /ai/policy",
			access: "ai:admin",
			idempotent: true,
			params: {
				$$strict: true,
				role: { type: "enum", values: [...ROLES] },
				models: { type: "array", items: { type: "string", min: 1, max: 100, pattern: /^[A-Za-z0-9._:/-]+$/ }, max: 100, nullable: true },
				requestsPerMinute: { type: "number", integer: true, min: 0, max: 100_000 },
				maxQueued: { type: "number", integer: true, min: 0, max: 1_000 },
			},
			async handler(ctx: Context<AiRolePolicy & { role: Role }, CallerMeta>): Promise<AiPolicy> {
				const { role, models, requestsPerMinute, maxQueued } = ctx.params;
				await this.tables.aiPolicies.upsert({ role, policy: JSON.stringify({ models, requestsPerMinute, maxQueued }), updatedBy: ctx.meta.user.id });
				// Every node's cached policy (users.aiPolicyOf) goes.
				await this.entityChanged("updated", { role }, ctx);
				return ctx.call<AiPolicy>("users.aiPolicyOf");
			},
		},

		/** For gateways: the sessions ended after `after` whose tokens may still be alive, oldest first. */
		revocations: {
			visibility: "public",
			idempotent: true,
			params: { after: { type: "number", integer: true, min: 0 }, limit: { type: "number", integer: true, min: 1, max: 1000, default: 1000 } },
			async handler(ctx: Context<{ after: number; limit: number }>): Promise<{ items: Revocation[] }> {
				const rows = await this.tables.sessionRevocations.findAll({
					where: { id: { [Op.gt]: ctx.params.after }, expiresAt: { [Op.gt]: new Date() } },
					order: [["id", "ASC"]],
					limit: ctx.params.limit,
				});
				return {
					items: rows.map((row) => {
						const { id, sessionId, userId, expiresAt, reason } = row.get({ plain: true });
						return { id, sessionId, userId, expiresAt: new Date(expiresAt).getTime(), reason };
					}),
				};
			},
		},

		/**
		 * A user as `me` and `get` show it, cached until the user changes: most requests of an app ask for it.
		 * The email stays sealed in the cache and is opened per answer, so the cache holds no plaintext.
		 */
		profile: {
			visibility: "protected",
			idempotent: true,
			cache: { keys: ["id"] },
			params: { id: idParam },
			async handler(ctx: Context<{ id: number }>): Promise<ProfileRow> {
				const { id, username, displayName, emailCiphertext, roles, createdAt, updatedAt } = await this.requireUser(ctx.params.id);
				return { id, username, displayName, emailCiphertext, roles, createdAt, updatedAt };
			},
		},

		/** For gateways: who a user is and what they may do, as their callers' sessions carry it. */
		session: {
			visibility: "public",
			idempotent: true,
			cache: { keys: ["id"], ttl: ACCESS_TOKEN_TTL_SECONDS },
			params: { id: idParam },
			async handler(ctx: Context<{ id: number }>): Promise<Session | null> {
				const row = (await this.tables.users.findByPk(ctx.params.id))?.get({ plain: true });
				if (!row) return null;
				const roles = parseRoles(row.roles);
				return { id: row.id, username: row.username, displayName: row.displayName, roles, permissions: permissionsOf(roles) };
			},
		},
	},

	methods: {
		/**
		 * Changes a user's roles: the target, the admin making the change and every admin are locked, so two
		 * admins demoting each other at once are judged one after the other and the second finds the first's
		 * change. `changedBy` is that admin, checked again under the lock, or null for an operator on a node.
		 */
		async changeRoles(ctx: Context, target: { id: number } | { username: string }, rolesAfter: (before: Role[]) => Role[], changedBy: number | null): Promise<RoleChange> {
			const { row, previousRoles } = await this.transaction(async (transaction) => {
				const locked = (
					await this.tables.users.findAll({
						where: { [Op.or]: [target, ...(changedBy === null ? [] : [{ id: changedBy }]), { roles: { [Op.like]: "%admin%" } }] },
						lock: transaction.LOCK.UPDATE,
						transaction,
					})
				).map((user) => user.get({ plain: true }));
				if (changedBy !== null) {
					const caller = locked.find((user) => user.id === changedBy);
					if (!caller || !permissionsOf(parseRoles(caller.roles)).includes("users:admin")) {
						throw new ForbiddenError("You need the 'users:admin' permission", "FORBIDDEN", { permission: "users:admin" });
					}
				}
				const found = locked.find((user) => ("id" in target ? user.id === target.id : user.username === target.username));
				if (!found) {
					const missing = "id" in target ? `User ${target.id} not found` : `No user is named '${target.username}'`;
					throw new NotFoundError(missing, "USER_NOT_FOUND", target);
				}
				if (isAssistantRow(found)) throw new ForbiddenError("The assistant's account has no roles to change", "ASSISTANT_ACCOUNT");
				const before = parseRoles(found.roles);
				const roles = rolesAfter(before);
				const admins = locked.filter((user) => parseRoles(user.roles).includes("admin"));
				if (before.includes("admin") && !roles.includes("admin") && admins.length <= 1) {
					throw new ConflictError("The last admin cannot lose the admin role", "LAST_ADMIN");
				}
				await this.tables.users.update({ roles: roles.join(",") }, { where: { id: found.id }, transaction });
				return { row: { ...found, roles: roles.join(",") }, previousRoles: before };
			});
			const user = this.publicUser(row, true);
			// Cleans the cached sessions everywhere, so the new permissions apply to the next request, also on
			// open sockets.
			await this.entityChanged("updated", user, ctx);
			ctx.broadcast<SessionChangedEvent>("users.session.changed", { userId: user.id });
			ctx.emit<UserRolesChangedEvent>("users.user.rolesChanged", { user, previousRoles, changedBy });
			return { user, previousRoles };
		},

		publicUser(row: ProfileRow, showEmail: boolean): PublicUser {
			return toPublicUser(row, showEmail ? this.cipher : null);
		},

		async findByLogin(login: string): Promise<UserRow | null> {
			const normalized = login.trim().toLowerCase();
			const where = normalized.includes("@") ? { emailIndex: this.cipher.blindIndex(normalized) } : { username: normalized };
			return (await this.tables.users.findOne({ where }))?.get({ plain: true }) ?? null;
		},

		async requireUser(id: number): Promise<UserRow> {
			const row = await this.tables.users.findByPk(id);
			if (!row) throw new NotFoundError(`User ${id} not found`, "USER_NOT_FOUND", { id });
			return row.get({ plain: true });
		},

		async issueTokens(userId: number, familyId: string, transaction?: Transaction): Promise<TokenPair> {
			const access = this.tokens.sign(userId, familyId, this.settings.accessTokenTtlSeconds);
			const refreshToken = randomToken(32);
			await this.tables.refreshTokens.create(
				{
					userId,
					familyId,
					tokenHash: sha256Hex(refreshToken),
					expiresAt: new Date(Date.now() + this.settings.refreshTokenTtlSeconds * 1000),
					accessTokenId: access.jti,
					accessExpiresAt: new Date(Date.now() + access.expiresIn * 1000),
				},
				{ transaction },
			);
			return { accessToken: access.token, refreshToken, expiresIn: access.expiresIn };
		},

		/**
		 * Claims a refresh token and issues its successor in one transaction: a failure on the way leaves the token
		 * unused. A token used before is reuse (a stolen copy), unless the same request comes again shortly after:
		 * then it is a retry whose answer was lost, and it gets that answer.
		 */
		async rotateRefreshToken(presented: string, requestId: string | null): Promise<RotationOutcome> {
			return this.transaction(async (transaction): Promise<RotationOutcome> => {
				const token = (
					await this.tables.refreshTokens.findOne({ where: { tokenHash: sha256Hex(presented) }, lock: transaction.LOCK.UPDATE, transaction })
				)?.get({ plain: true });
				if (!token) return { kind: "refused", message: "Refresh token is not valid", type: "INVALID_REFRESH_TOKEN" };
				if (token.revokedAt) return { kind: "refused", message: "Refresh token was revoked", type: "REFRESH_TOKEN_REVOKED" };
				if (new Date(token.expiresAt).getTime() <= Date.now()) {
					return { kind: "refused", message: "Refresh token has expired", type: "REFRESH_TOKEN_EXPIRED" };
				}
				if (token.usedAt) {
					const retried = requestId !== null && token.claimRequestId === requestId && token.successorSealed;
					if (retried && Date.now() - new Date(token.usedAt).getTime() < REFRESH_REPLAY_WINDOW_MS) {
						return { kind: "replayed", tokens: JSON.parse(openWithSecret(presented, token.successorSealed!, SUCCESSOR_PURPOSE)) as TokenPair };
					}
					return { kind: "reused", token };
				}
				if (!(await this.tables.users.findByPk(token.userId, { transaction }))) {
					return { kind: "refused", message: "The account no longer exists", type: "INVALID_REFRESH_TOKEN" };
				}
				const tokens = await this.issueTokens(token.userId, token.familyId, transaction);
				await this.tables.refreshTokens.update(
					{ usedAt: new Date(), claimRequestId: requestId, successorSealed: sealWithSecret(presented, JSON.stringify(tokens), SUCCESSOR_PURPOSE) },
					{ where: { id: token.id }, transaction },
				);
				return { kind: "issued", tokens };
			});
		},

		async checkPassword(hash: string, password: string): Promise<boolean> {
			try {
				return await this.hasher.verify(hash, password);
			} catch (err) {
				if (err instanceof PasswordWorkBusyError) throw new ServiceBusyError("Too many sign-ins at once, try again in a moment", 1, "SIGN_IN_BUSY");
				throw err;
			}
		},

		signInWaitMs(row: UserRow | null, login: string, address: string | undefined): number {
			const now = Date.now();
			const accountWait = row
				? Math.max(0, new Date(row.loginBlockedUntil ?? 0).getTime() - now)
				: this.unknownLoginFailures.waitFor(login.trim().toLowerCase(), now);
			return Math.max(accountWait, address ? this.addressFailures.waitFor(address, now) : 0);
		},

		async recordFailedSignIn(row: UserRow | null, login: string, address: string | undefined): Promise<void> {
			if (address) this.addressFailures.recordFailure(address);
			if (!row) {
				this.unknownLoginFailures.recordFailure(login.trim().toLowerCase());
				return;
			}
			const policy = this.settings.loginThrottle.account;
			const now = Date.now();
			const recent = row.lastFailedLoginAt && now - new Date(row.lastFailedLoginAt).getTime() <= policy.forgetAfterMs;
			const failedLogins = (recent ? row.failedLogins : 0) + 1;
			const wait = delayAfter(failedLogins, policy);
			await this.tables.users.update(
				{ failedLogins, lastFailedLoginAt: new Date(now), loginBlockedUntil: wait > 0 ? new Date(now + wait) : null },
				{ where: { id: row.id } },
			);
			if (wait > 0) this.logger.warn(`Sign-ins to account ${row.id} are held back ${Math.round(wait / 1000)} s after ${failedLogins} failures`);
		},

		async claimFirstAdmin(userId: number, transaction: Transaction): Promise<boolean> {
			if (await this.tables.firstAdmin.findByPk(1, { transaction })) return false;
			try {
				await this.tables.firstAdmin.create({ id: 1, userId }, { transaction });
				return true;
			} catch (err) {
				// Another first registration claimed it a moment earlier.
				if (err instanceof UniqueConstraintError) return false;
				throw err;
			}
		},

		/**
		 * Ends a session: its refresh tokens are revoked, and the revocation is recorded and announced to every
		 * gateway, which refuses the session's access tokens and drops its sockets at once.
		 */
		async revokeSession(sessionId: string, userId: number, reason: string): Promise<void> {
			const expiresAt = new Date(Date.now() + this.settings.accessTokenTtlSeconds * 1000);
			const revocation = await this.transaction(async (transaction) => {
				await this.tables.refreshTokens.update(
					{ revokedAt: new Date() },
					{ where: { familyId: sessionId, revokedAt: { [Op.is]: null } }, transaction },
				);
				const row = await this.tables.sessionRevocations.create({ sessionId, userId, expiresAt, reason }, { transaction });
				return row.get({ plain: true });
			});
			this.broker.broadcast<SessionRevokedEvent>("users.session.revoked", {
				revocation: { id: revocation.id, sessionId, userId, expiresAt: expiresAt.getTime(), reason },
			});
		},
	},

	created() {
		const secrets = loadSecrets();
		this.tokens = new AccessTokens(secrets.jwtSecret);
		this.hasher = new PasswordHasher(this.settings.passwordCost);
		this.addressFailures = new FailureThrottle(this.settings.loginThrottle.address);
		this.unknownLoginFailures = new FailureThrottle(this.settings.loginThrottle.account);
		this.cipher = new FieldCipher(secrets.dataKey, secrets.previousDataKeys, secrets.indexKey);
	},

	async started() {
		this.decoyHash = await this.hasher.hash(randomToken(16));
		this.assistantAccount = await ensureAssistantAccount(this.tables, this.cipher, this.hasher, this.logger);
	},
};

export default UsersService;

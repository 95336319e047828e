import { Errors, type Context, type ServiceSchema, type ServiceSettingSchema } from "moleculer";
import { randomUUID } from "node:crypto";
import { DataTypes, Op, UniqueConstraintError, type Model, type ModelStatic, type Optional, type WhereOptions } from "sequelize";
import { requireCaller } from "../lib/caller";
import { loadSecrets } from "../lib/config";
import { idParam, PRINTABLE } from "../lib/params";
import { FieldCipher, randomToken, sha256Hex } from "../lib/crypto";
import { ConflictError, NotFoundError, UnauthorizedError } from "../lib/errors";
import { createKeyValueStore, type KeyValueStore } from "../lib/kv-store";
import { DEFAULT_PASSWORD_COST, hashPassword, verifyPassword, type PasswordHashCost } from "../lib/passwords";
import { isRole, permissionsOf, ROLES, type Role } from "../lib/permissions";
import { registerReadinessProbe } from "../lib/readiness";
import { disconnectSockets } from "../lib/realtime";
import {
	ACCESS_TOKEN_TTL_SECONDS,
	REFRESH_TOKEN_TTL_SECONDS,
	signAccessToken,
	TokenError,
	verifyAccessToken,
} from "../lib/tokens";
import { usersMigrations } from "../migrations/users";
import { createDbMixin, type DbServiceThis, type DbSettings } from "../mixins/db.mixin";
import type { PublicUser, RequestMeta, SessionUser, TokenPair, UserCreatedEvent, UserRolesChangedEvent } from "../types/users";

export interface UsersSettings extends ServiceSettingSchema, DbSettings {
	/** Shared store of the access-token blacklist; process memory when unset. */
	redisUrl?: string;
	passwordCost: PasswordHashCost;
	accessTokenTtlSeconds: number;
	refreshTokenTtlSeconds: number;
}

interface UserRow {
	id: number;
	username: string;
	displayName: string;
	emailCiphertext: string;
	emailIndex: string;
	passwordHash: string;
	roles: string;
	createdAt: Date;
	updatedAt: Date;
}

interface RefreshTokenRow {
	id: number;
	userId: number;
	familyId: string;
	tokenHash: string;
	expiresAt: Date;
	usedAt: Date | null;
	revokedAt: Date | null;
	/** The access token issued together with this refresh token. */
	accessTokenId: string | null;
	accessExpiresAt: Date | null;
	createdAt: Date;
}

type UserModel = ModelStatic<Model<UserRow, Optional<UserRow, "id" | "createdAt" | "updatedAt">>>;
type RefreshTokenModel = ModelStatic<
	Model<RefreshTokenRow, Optional<RefreshTokenRow, "id" | "usedAt" | "revokedAt" | "accessTokenId" | "accessExpiresAt" | "createdAt">>
>;

interface UsersState {
	users: UserModel;
	refreshTokens: RefreshTokenModel;
	cipher: FieldCipher;
	store: KeyValueStore;
	jwtSecret: string;
	/** Verified against when no user matches a login, so unknown names take as long as wrong passwords. */
	decoyHash: string;
}

type UsersContext<P = unknown> = Context<P, RequestMeta>;

interface UsersMethods {
	toPublicUser(row: UserRow, showEmail: boolean): PublicUser;
	findByLogin(login: string): Promise<UserRow | null>;
	requireUser(id: number): Promise<UserRow>;
	issueTokens(userId: number, familyId: string): Promise<TokenPair>;
	revokeFamily(familyId: string, reason: string): Promise<void>;
}

const USER_ATTRIBUTES = {
	id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
	username: { type: DataTypes.STRING(32), allowNull: false },
	displayName: { type: DataTypes.STRING(64), allowNull: false },
	emailCiphertext: { type: DataTypes.STRING(512), allowNull: false },
	emailIndex: { type: DataTypes.STRING(64), allowNull: false },
	passwordHash: { type: DataTypes.STRING(255), allowNull: false },
	roles: { type: DataTypes.STRING(64), allowNull: false },
};

const REFRESH_TOKEN_ATTRIBUTES = {
	id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
	userId: { type: DataTypes.INTEGER, allowNull: false },
	familyId: { type: DataTypes.STRING(36), allowNull: false },
	tokenHash: { type: DataTypes.STRING(64), allowNull: false },
	expiresAt: { type: DataTypes.DATE, allowNull: false },
	usedAt: { type: DataTypes.DATE, allowNull: true },
	revokedAt: { type: DataTypes.DATE, allowNull: true },
	accessTokenId: { type: DataTypes.STRING(36), allowNull: true },
	accessExpiresAt: { type: DataTypes.DATE, allowNull: true },
};

const BLACKLIST_PREFIX = "auth:blacklist:";
const USERNAME_PATTERN = /^[a-z0-9_.-]+$/;

/** A row as a plain object; Sequelize's typings do not follow `raw: true`. */
async function findRaw<Row extends object>(
	model: ModelStatic<Model<Row, Partial<Row>>>,
	where: WhereOptions<Row>,
): Promise<Row | null> {
	return (await model.findOne({ where, raw: true })) as unknown as Row | null;
}

/** Emails are shown to their owner and to user admins only. */
function mayReadEmail(viewer: SessionUser | null | undefined, userId: number): boolean {
	return Boolean(viewer && (viewer.id === userId || viewer.permissions.includes("users:admin")));
}

function parseRoles(stored: string): Role[] {
	return stored.split(",").filter(isRole);
}

function encodeCursor(id: number): string {
	return Buffer.from(String(id)).toString("base64url");
}

function decodeCursor(cursor: string): number {
	const decoded = Buffer.from(cursor, "base64url").toString();
	const id = Number(decoded);
	// Number() also reads "", "1e3" and "0x10": only the decimal ids encodeCursor writes are cursors.
	if (!/^\d+$/.test(decoded) || !Number.isSafeInteger(id)) {
		throw new Errors.ValidationError("cursor is not valid", "VALIDATION_ERROR", [
			{ field: "cursor", type: "cursor", message: "The 'cursor' field is not a cursor this API returned." },
		]);
	}
	return id;
}

const UsersService: ServiceSchema<UsersSettings, UsersMethods, DbServiceThis & UsersState> & { model: unknown } = {
	name: "users",
	mixins: [createDbMixin({ database: "users", migrations: usersMigrations })],

	settings: {
		redisUrl: process.env.REDIS_URL,
		passwordCost: DEFAULT_PASSWORD_COST,
		accessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS,
		refreshTokenTtlSeconds: REFRESH_TOKEN_TTL_SECONDS,
		$secureSettings: ["redisUrl"],
	},

	model: {
		name: "user",
		define: USER_ATTRIBUTES,
		options: { tableName: "users" },
	},

	actions: {
		register: {
			params: {
				$$strict: true,
				username: { type: "string", trim: true, lowercase: true, min: 3, max: 32, pattern: USERNAME_PATTERN },
				email: { type: "email", normalize: true, max: 254 },
				password: { type: "string", min: 10, max: 256 },
				displayName: { type: "string", trim: true, min: 1, max: 64, pattern: PRINTABLE, optional: true },
			},
			async handler(ctx: UsersContext<{ username: string; email: string; password: string; displayName?: string }>,
			): Promise<{ user: PublicUser }> {
				const { username, email, password, displayName } = ctx.params;
				const passwordHash = await hashPassword(password, this.settings.passwordCost);
				let row: UserRow;
				try {
					const created = await this.users.create({
						username,
						displayName: displayName ?? username,
						emailCiphertext: this.cipher.encrypt(email, "users.email"),
						emailIndex: this.cipher.blindIndex(email),
						passwordHash,
						roles: "member",
					});
					row = created.get({ plain: true });
				} catch (err) {
					if (err instanceof UniqueConstraintError) {
						throw new ConflictError("That username or email is already registered", "USER_EXISTS");
					}
					throw err;
				}
				// The lowest id is the first account ever registered: it becomes the admin.
				const firstId = await this.users.min("id");
				if (firstId === row.id) {
					await this.users.update({ roles: "admin" }, { where: { id: row.id } });
					row.roles = "admin";
				}
				// No cache to clean: nothing cached depends on who else is registered.
				const user = this.toPublicUser(row, true);
				ctx.emit<UserCreatedEvent>("users.user.created", { user });
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/v1/users/${user.id}`;
				return { user };
			},
		},

		login: {
			params: {
				$$strict: true,
				username: { type: "string", trim: true, min: 1, max: 254, pattern: PRINTABLE, optional: true },
				email: { type: "string", trim: true, min: 1, max: 254, pattern: PRINTABLE, optional: true },
				password: { type: "string", min: 1, max: 256 },
			},
			async handler(ctx: UsersContext<{ username?: string; email?: string; password: string }>,
			): Promise<TokenPair & { user: PublicUser }> {
				const login = ctx.params.username ?? ctx.params.email;
				if (!login) {
					throw new Errors.ValidationError("username or email is required", "VALIDATION_ERROR", [
						{ field: "username", type: "required", message: "Give 'username' (a username or an email) or 'email'." },
					]);
				}
				const row = await this.findByLogin(login);
				const passwordMatches = await verifyPassword(row?.passwordHash ?? this.decoyHash, ctx.params.password);
				if (!row || !passwordMatches) {
					throw new UnauthorizedError("Wrong username, email or password", "INVALID_CREDENTIALS");
				}
				const tokens = await this.issueTokens(row.id, randomUUID());
				return { ...tokens, user: this.toPublicUser(row, true) };
			},
		},

		refresh: {
			params: { $$strict: true, refreshToken: { type: "string", min: 1, max: 512 } },
			async handler(ctx: UsersContext<{ refreshToken: string }>): Promise<TokenPair> {
				const stored = await findRaw(this.refreshTokens, { tokenHash: sha256Hex(ctx.params.refreshToken) });
				if (!stored) throw new UnauthorizedError("Refresh token is not valid", "INVALID_REFRESH_TOKEN");
				if (stored.revokedAt) throw new UnauthorizedError("Refresh token was revoked", "REFRESH_TOKEN_REVOKED");
				// Raw rows carry dates as strings on SQLite and as Date objects on MySQL.
				if (new Date(stored.expiresAt).getTime() <= Date.now()) {
					throw new UnauthorizedError("Refresh token has expired", "REFRESH_TOKEN_EXPIRED");
				}
				// Claim the token atomically: of two uses of one token, only one can win the update.
				const [claimed] = await this.refreshTokens.update(
					{ usedAt: new Date() },
					{ where: { id: stored.id, usedAt: { [Op.is]: null }, revokedAt: { [Op.is]: null } } },
				);
				if (claimed === 0) {
					await this.revokeFamily(stored.familyId, "Session revoked: its refresh token was used twice");
					this.logger.warn(`Refresh token reuse detected for user ${stored.userId}: session family revoked`);
					throw new UnauthorizedError(
						"Refresh token was already used: every session of this login was signed out",
						"REFRESH_TOKEN_REUSED",
					);
				}
				await this.requireUser(stored.userId).catch(() => {
					throw new UnauthorizedError("The account no longer exists", "INVALID_REFRESH_TOKEN");
				});
				return this.issueTokens(stored.userId, stored.familyId);
			},
		},

		logout: {
			params: { $$strict: true, refreshToken: { type: "string", min: 1, max: 512, optional: true } },
			async handler(ctx: UsersContext<{ refreshToken?: string }>): Promise<null> {
				const caller = requireCaller(ctx);
				const ttlMs = caller.tokenExpiresAt * 1000 - Date.now();
				if (ttlMs > 0) await this.store.set(BLACKLIST_PREFIX + caller.tokenId, String(caller.id), ttlMs);
				if (ctx.params.refreshToken) {
					const stored = await findRaw(this.refreshTokens, {
						tokenHash: sha256Hex(ctx.params.refreshToken),
						userId: caller.id,
					});
					if (stored) await this.revokeFamily(stored.familyId, "Signed out");
				}
				ctx.emit("users.session.ended", { userId: caller.id, tokenId: caller.tokenId });
				await disconnectSockets(ctx, { userId: caller.id, tokenId: caller.tokenId, reason: "Signed out" });
				ctx.meta.$statusCode = 204;
				return null;
			},
		},

		me: {
			async handler(ctx: UsersContext): Promise<PublicUser> {
				const caller = requireCaller(ctx);
				return this.toPublicUser(await this.requireUser(caller.id), true);
			},
		},

		get: {
			params: { $$strict: true, id: idParam },
			async handler(ctx: UsersContext<{ id: number }>): Promise<PublicUser> {
				return this.toPublicUser(await this.requireUser(ctx.params.id), mayReadEmail(ctx.meta.user, ctx.params.id));
			},
		},

		list: {
			params: {
				$$strict: true,
				cursor: { type: "string", max: 64, optional: true },
				limit: { type: "number", integer: true, min: 1, max: 100, convert: true, default: 50 },
			},
			async handler(ctx: UsersContext<{ cursor?: string; limit: number }>,
			): Promise<{ items: PublicUser[]; nextCursor: string | null }> {
				const after = ctx.params.cursor ? decodeCursor(ctx.params.cursor) : 0;
				const rows = (await this.users.findAll({
					where: { id: { [Op.gt]: after } },
					order: [["id", "ASC"]],
					limit: ctx.params.limit + 1,
					raw: true,
				})) as unknown as UserRow[];
				const page = rows.slice(0, ctx.params.limit);
				return {
					items: page.map((row) => this.toPublicUser(row, mayReadEmail(ctx.meta.user, row.id))),
					nextCursor: rows.length > ctx.params.limit ? encodeCursor(page[page.length - 1].id) : null,
				};
			},
		},

		setRoles: {
			params: {
				$$strict: true,
				id: idParam,
				roles: { type: "array", items: { type: "enum", values: [...ROLES] }, min: 1, max: ROLES.length, unique: true },
			},
			async handler(ctx: UsersContext<{ id: number; roles: Role[] }>): Promise<PublicUser> {
				const caller = requireCaller(ctx);
				const row = await this.requireUser(ctx.params.id);
				const previousRoles = parseRoles(row.roles);
				if (previousRoles.includes("admin") && !ctx.params.roles.includes("admin")) {
					const admins = await this.users.count({ where: { roles: { [Op.like]: "%admin%" } } });
					if (admins <= 1) {
						throw new ConflictError("The last admin cannot lose the admin role", "LAST_ADMIN");
					}
				}
				const roles = ROLES.filter((role) => ctx.params.roles.includes(role));
				await this.users.update({ roles: roles.join(",") }, { where: { id: row.id } });
				const user = this.toPublicUser({ ...row, roles: roles.join(",") }, true);
				// Cleans the cached sessions everywhere, so the new permissions apply to the next request.
				await this.entityChanged("updated", user, ctx);
				ctx.emit<UserRolesChangedEvent>("users.user.rolesChanged", { user, previousRoles, changedBy: caller.id });
				return user;
			},
		},

		/** For other services: ids of the given usernames (unknown names are left out), e.g. for @mentions. */
		resolveUsernames: {
			visibility: "public",
			params: { usernames: { type: "array", items: { type: "string", max: 32 }, max: 100 } },
			async handler(ctx: UsersContext<{ usernames: string[] }>): Promise<Record<string, number>> {
				const usernames = [...new Set(ctx.params.usernames.map((name) => name.toLowerCase()))];
				if (usernames.length === 0) return {};
				const rows = (await this.users.findAll({
					where: { username: { [Op.in]: usernames } },
					attributes: ["id", "username"],
					raw: true,
				})) as unknown as Pick<UserRow, "id" | "username">[];
				return Object.fromEntries(rows.map((row) => [row.username, row.id]));
			},
		},

		resolveToken: {
			visibility: "public",
			params: { token: { type: "string", min: 1, max: 4096 } },
			async handler(ctx: UsersContext<{ token: string }>): Promise<SessionUser> {
				let claims;
				try {
					claims = verifyAccessToken(ctx.params.token, this.jwtSecret);
				} catch (err) {
					if (err instanceof TokenError && err.problem === "expired") {
						throw new UnauthorizedError("Access token has expired", "TOKEN_EXPIRED");
					}
					throw new UnauthorizedError("Access token is not valid", "INVALID_TOKEN");
				}
				if (await this.store.get(BLACKLIST_PREFIX + claims.jti)) {
					throw new UnauthorizedError("Access token was revoked", "TOKEN_REVOKED");
				}
				const session = await ctx.call<Omit<SessionUser, "tokenId" | "tokenExpiresAt"> | null, { id: number }>(
					"users.session",
					{ id: Number(claims.sub) },
				);
				if (!session) throw new UnauthorizedError("The account no longer exists", "INVALID_TOKEN");
				return { ...session, tokenId: claims.jti, tokenExpiresAt: claims.exp };
			},
		},

		session: {
			visibility: "protected",
			cache: { keys: ["id"], ttl: ACCESS_TOKEN_TTL_SECONDS },
			params: { id: idParam },
			async handler(ctx: UsersContext<{ id: number }>,
			): Promise<Omit<SessionUser, "tokenId" | "tokenExpiresAt"> | null> {
				const row = await findRaw(this.users, { id: ctx.params.id });
				if (!row) return null;
				const roles = parseRoles(row.roles);
				return {
					id: row.id,
					username: row.username,
					displayName: row.displayName,
					roles,
					permissions: permissionsOf(roles),
				};
			},
		},
	},

	methods: {
		toPublicUser(row: UserRow, showEmail: boolean): PublicUser {
			const user: PublicUser = {
				id: row.id,
				username: row.username,
				displayName: row.displayName,
				roles: parseRoles(row.roles),
				createdAt: new Date(row.createdAt).toISOString(),
			};
			if (showEmail) {
				user.email = this.cipher.decrypt(row.emailCiphertext, "users.email");
			}
			return user;
		},

		async findByLogin(login: string): Promise<UserRow | null> {
			const normalized = login.trim().toLowerCase();
			const where = normalized.includes("@")
				? { emailIndex: this.cipher.blindIndex(normalized) }
				: { username: normalized };
			return findRaw(this.users, where);
		},

		async requireUser(id: number): Promise<UserRow> {
			const row = await findRaw(this.users, { id });
			if (!row) throw new NotFoundError(`User ${id} not found`, "USER_NOT_FOUND", { id });
			return row;
		},

		async issueTokens(userId: number, familyId: string): Promise<TokenPair> {
			const access = signAccessToken(userId, this.jwtSecret, this.settings.accessTokenTtlSeconds);
			const refreshToken = randomToken(32);
			await this.refreshTokens.create({
				userId,
				familyId,
				tokenHash: sha256Hex(refreshToken),
				expiresAt: new Date(Date.now() + this.settings.refreshTokenTtlSeconds * 1000),
				accessTokenId: access.jti,
				accessExpiresAt: new Date(Date.now() + access.expiresIn * 1000),
			});
			return { accessToken: access.token, refreshToken, expiresIn: access.expiresIn };
		},

		async revokeFamily(familyId: string, reason: string): Promise<void> {
			// The family's access tokens that are still alive end with it, and so do their sockets.
			const live = (await this.refreshTokens.findAll({
				where: { familyId, accessExpiresAt: { [Op.gt]: new Date() } },
				attributes: ["userId", "accessTokenId", "accessExpiresAt"],
				raw: true,
			})) as unknown as Pick<RefreshTokenRow, "userId" | "accessTokenId" | "accessExpiresAt">[];
			for (const token of live) {
				if (!token.accessTokenId || !token.accessExpiresAt) continue;
				const ttlMs = new Date(token.accessExpiresAt).getTime() - Date.now();
				if (ttlMs > 0) await this.store.set(BLACKLIST_PREFIX + token.accessTokenId, String(token.userId), ttlMs);
				await disconnectSockets(this.broker, { userId: token.userId, tokenId: token.accessTokenId, reason });
			}
			await this.refreshTokens.update(
				{ revokedAt: new Date() },
				{ where: { familyId, revokedAt: { [Op.is]: null } } },
			);
		},
	},

	created() {
		const secrets = loadSecrets();
		this.jwtSecret = secrets.jwtSecret;
		this.cipher = new FieldCipher(secrets.dataKey, secrets.previousDataKeys, secrets.indexKey);
		this.store = createKeyValueStore(this.settings.redisUrl, `colony:${this.broker.namespace}:`);
	},

	async started() {
		this.users = (this as unknown as { model: UserModel }).model;
		this.refreshTokens = defineRefreshTokens(this);
		this.decoyHash = await hashPassword(randomToken(16), this.settings.passwordCost);
		if (this.settings.redisUrl) registerReadinessProbe(this.broker, "redis:users", () => this.store.isReady());
	},

	async stopped() {
		await this.store.close();
	},
};

function defineRefreshTokens(service: DbServiceThis): RefreshTokenModel {
	return service.database.define("refreshToken", REFRESH_TOKEN_ATTRIBUTES, {
		tableName: "refresh_tokens",
		updatedAt: false,
	}) as RefreshTokenModel;
}

export default UsersService;

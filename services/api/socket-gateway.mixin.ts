import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import SocketIOService from "moleculer-io";
import type { Server, Socket } from "socket.io";
import { channelRoom, JOIN_EVENT, PUSH_EVENT, userRoom, type JoinPayload, type PushPayload } from "../../broker/realtime";
import type { Revocation } from "../../lib/auth/revocations";
import type { AccessTokenClaims } from "../../lib/auth/tokens";
import { failureLog, refusalLog } from "../../broker/failures";
import { intFromEnv } from "../../lib/config";
import { toClientError, type GatewayError } from "../../lib/http/client-errors";
import { clientIp } from "../../lib/http/client-ip";
import { inspectJson } from "../../lib/http/json-guard";
import type { PresenceStore } from "../../lib/state/presence";
import type { RateLimiter } from "../../lib/state/rate-limiter";
import type { ErrorBody, PresenceStatus } from "../../types/contract";
import type { CallerMeta, RequestMeta, SessionUser } from "../../types/users";
import type { CallersMethods, CallersState } from "./callers.mixin";

const TYPING_INTERVAL_MS = 2_000;
const SOCKET_CALL_TIMEOUT_MS = 15_000;

export interface SocketGatewaySettings extends ServiceSettingSchema {
	redisUrl?: string;
	presenceTtlMs: number;
	/** Socket calls per user and minute, over all their sockets and gateways (typing is throttled apart). */
	socketRateLimitPerMinute: number;
	/** Connection attempts per client address and minute, good or bad. */
	socketConnectsPerMinute: number;
	/** Open sockets one user may hold on one gateway. */
	maxSocketsPerUser: number;
	/** moleculer-io's settings: socket.io options and the namespaces with their handlers. */
	io: Record<string, unknown>;
}

interface SocketState {
	io: Server;
	/** Set by the gateway, on the store its REST limiter uses. */
	socketLimiter: RateLimiter;
	connectLimiter: RateLimiter;
	trusted: ReadonlySet<string>;
	/** Set by the gateway, on its Redis connection when it has one. */
	presence: PresenceStore;
	/** This node's sockets per user: presence is held while a user has at least one. */
	localSockets: Map<number, Set<string>>;
	presenceHeartbeat: NodeJS.Timeout;
}

interface SocketMethods {
	socketAuthorize(socket: Socket): Promise<SessionUser>;
	handleSocketCall(socket: Socket, action: unknown, params: unknown): Promise<unknown>;
	screenSocketCall(socket: Socket, action: unknown, params: unknown): Promise<SessionUser>;
	socketCaller(socket: Socket): Promise<SessionUser>;
	renewSocketToken(socket: Socket, token: unknown): Promise<{ expiresAt: number }>;
	holdSocketSession(socket: Socket, claims: AccessTokenClaims): void;
	endSocket(socket: Socket, type: string, reason: string): void;
	sessionEnded(revocation: Revocation): void;
	trackSocket(socket: Socket, user: SessionUser): Promise<void>;
	announcePresence(userId: number, audience?: string[]): Promise<void>;
	presenceAudience(userId: number): Promise<string[]>;
}

type SocketThis = Service<SocketGatewaySettings> & SocketState & SocketMethods & CallersState & CallersMethods;

/** What a socket holds of its session: the claims of the access token it last presented, and their timers. */
interface SocketSession {
	claims: AccessTokenClaims;
	/** Tells the client to renew its token (`session.expiring`), on the server's clock. */
	warning: NodeJS.Timeout;
	expiry: NodeJS.Timeout;
}

/** How long before expiry a socket is told to renew its token: 30 s, or a quarter of what is left if less. */
function warningLeadMs(remainingMs: number): number {
	return Math.min(30_000, remainingMs / 4);
}

function sessionOf(socket: Socket): SocketSession | undefined {
	return socket.data.session as SocketSession | undefined;
}
type Acknowledge = (error: ErrorBody | null, result?: unknown) => void;

interface ErrorLike {
	message: string;
	type?: string;
	code?: number;
}

/** socket.io hands `message` and `data` of a middleware error to the client's `connect_error`. */
function connectError(err: ErrorLike): Error {
	const error = new Error(err.message) as Error & { data: { type: string; code: number } };
	error.data = { type: err.type ?? "UNAUTHORIZED", code: err.code ?? 401 };
	return error;
}

function callError(message: string, type: string, code: number, data?: unknown): GatewayError {
	return Object.assign(new Error(message), { name: "SocketCallError", type, code, data });
}

/**
 * `call(action, params, ack)` from a socket. It replaces moleculer-io's handler, which would run every call
 * through a private action of its own (with its retries) and label metrics with each socket's rooms.
 */
function onSocketCall(this: Socket & { $service: SocketThis }, action: unknown, params: unknown, ack: unknown): void {
	const respond: Acknowledge | undefined = typeof ack === "function" ? (ack as Acknowledge) : undefined;
	this.$service.handleSocketCall(this, action, params).then(
		(result) => respond?.(null, result),
		(err: GatewayError) => {
			const body = toClientError(err);
			if (body.code >= 500) this.$service.logger.error(`Socket call of ${String(action).slice(0, 64)} failed:`, err);
			respond?.(body);
		},
	);
}

/** `auth.refresh(token, ack)`: a new access token of the same session, before the current one expires. */
function onSocketRefresh(this: Socket & { $service: SocketThis }, token: unknown, ack: unknown): void {
	const respond: Acknowledge | undefined = typeof ack === "function" ? (ack as Acknowledge) : undefined;
	this.$service.renewSocketToken(this, token).then(
		(result) => respond?.(null, result),
		(err: GatewayError) => respond?.(toClientError(err)),
	);
}

/**
 * socket.io on the gateway's HTTP server through moleculer-io: token authentication on connect, the rooms
 * `user:<id>` and `channel:<id>`, calls of the actions that declare `socket: true`, server events pushed by
 * services through `broker/realtime`, throttled typing and presence leases. It needs the CallersMixin beside it.
 */
export const SocketGatewayMixin: Partial<ServiceSchema<SocketGatewaySettings, SocketMethods, SocketState & CallersState & CallersMethods>> = {
	mixins: [SocketIOService],

	settings: {
		presenceTtlMs: intFromEnv(process.env.PRESENCE_TTL_MS, 45_000, "PRESENCE_TTL_MS"),
		socketRateLimitPerMinute: intFromEnv(process.env.SOCKET_RATE_LIMIT_PER_MIN, 600, "SOCKET_RATE_LIMIT_PER_MIN"),
		socketConnectsPerMinute: intFromEnv(process.env.SOCKET_CONNECTS_PER_MIN, 60, "SOCKET_CONNECTS_PER_MIN"),
		maxSocketsPerUser: intFromEnv(process.env.MAX_SOCKETS_PER_USER, 20, "MAX_SOCKETS_PER_USER"),
		io: {
			options: { pingInterval: 10_000, pingTimeout: 10_000, maxHttpBufferSize: 64 * 1024 },
			namespaces: { "/": { authorization: true, events: { call: onSocketCall, "auth.refresh": onSocketRefresh } } },
		},
	} as SocketGatewaySettings,

	actions: {
		// moleculer-io's own broadcast and client listing would let any node reach any socket: services push
		// through the gateway.push event instead.
		broadcast: false,
		getClients: false,
		// Socket calls are handled by onSocketCall.
		call: false,

		presence: {
			rest: "GET /presence",
			access: "user",
			socket: true,
			idempotent: true,
			params: { $$strict: true, ids: { type: "string", pattern: /^\d+(,\d+){0,199}$/ } },
			async handler(ctx: Context<{ ids: string }, CallerMeta>): Promise<{ items: { userId: number; status: PresenceStatus }[] }> {
				const ids = [...new Set(ctx.params.ids.split(",").map(Number))];
				const statuses = await this.presence.statusOf(ids);
				return { items: ids.map((userId) => ({ userId, status: statuses[userId] })) };
			},
		},

		/** For other services (notifications): who is connected, without a caller. */
		presenceOf: {
			visibility: "public",
			idempotent: true,
			params: { ids: { type: "array", items: { type: "number", integer: true, positive: true }, min: 1, max: 1_000 } },
			async handler(ctx: Context<{ ids: number[] }>): Promise<Record<number, PresenceStatus>> {
				return this.presence.statusOf([...new Set(ctx.params.ids)]);
			},
		},

		setPresence: {
			rest: "PUT /presence",
			access: "user",
			socket: true,
			idempotent: true,
			params: { $$strict: true, status: { type: "enum", values: ["online", "away"] } },
			async handler(ctx: Context<{ status: "online" | "away" }, CallerMeta>) {
				await this.presence.setAway(ctx.meta.user.id, ctx.params.status === "away", 12 * 60 * 60 * 1000);
				await this.announcePresence(ctx.meta.user.id);
				return { status: ctx.params.status };
			},
		},
	},

	events: {
		[PUSH_EVENT](ctx: Context<PushPayload>) {
			if (!this.io) return;
			const { rooms, exceptRooms, event, data } = ctx.params;
			let target = this.io.local;
			if (rooms.length > 0) target = target.to(rooms);
			if (exceptRooms?.length) target = target.except(exceptRooms);
			target.emit(event, data);
		},

		[JOIN_EVENT](ctx: Context<JoinPayload>) {
			if (!this.io) return;
			this.io.local.in(ctx.params.room).socketsJoin(ctx.params.join);
			if (ctx.params.leave?.length) this.io.local.in(ctx.params.room).socketsLeave(ctx.params.leave);
		},
	},

	methods: {
		/** Tells every socket of this gateway to reconnect (the SDK does, to whichever gateway answers) and closes it. */
		closeSockets(reason: string) {
			if (!this.io) return;
			this.io.emit("server.shutdown", { reason });
			this.io.disconnectSockets(true);
		},

		async socketAuthorize(socket: Socket): Promise<SessionUser> {
			// Every attempt counts against the address, with a good token or a bad one.
			const attempts = await this.connectLimiter.consume(`connect:ip:${clientIp(socket.request, this.trusted)}`);
			if (!attempts.allowed) {
				throw connectError({ message: `Too many connection attempts: retry in ${attempts.resetSeconds} s`, type: "RATE_LIMITED", code: 429 });
			}
			const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
			if (typeof token !== "string" || token.length === 0) {
				throw connectError({ message: "Connect with auth: { token: <access token> }", type: "NO_TOKEN" });
			}
			let user: SessionUser;
			let channels: number[];
			try {
				user = await this.resolveCaller(token);
				channels = await this.broker.call<number[], { userId: number }>("chat.channelsOf", { userId: user.id });
			} catch (err) {
				const failure = err as ErrorLike;
				if (failure.code && failure.code < 500) throw connectError(failure);
				throw connectError({ message: "Chat is temporarily unavailable, retry shortly", type: "SERVICE_UNAVAILABLE", code: 503 });
			}
			if ((this.localSockets.get(user.id)?.size ?? 0) >= this.settings.maxSocketsPerUser) {
				throw connectError({ message: `At most ${this.settings.maxSocketsPerUser} connections per user: close one first`, type: "TOO_MANY_SOCKETS", code: 429 });
			}
			this.holdSocketSession(socket, this.verifyToken(token));
			socket.data.user = user;
			socket.once("disconnect", () => {
				clearTimeout(sessionOf(socket)?.warning);
				clearTimeout(sessionOf(socket)?.expiry);
			});
			await socket.join([userRoom(user.id), ...channels.map(channelRoom)]);
			await this.trackSocket(socket, user);
			return user;
		},

		/** A socket lives no longer than its token: it is dropped at expiry unless renewed over `auth.refresh`. */
		holdSocketSession(socket: Socket, claims: AccessTokenClaims) {
			const previous = sessionOf(socket);
			clearTimeout(previous?.warning);
			clearTimeout(previous?.expiry);
			const remainingMs = Math.max(0, claims.exp * 1000 - Date.now());
			const warning = setTimeout(() => socket.emit("session.expiring", { inMs: Math.max(0, claims.exp * 1000 - Date.now()) }), remainingMs - warningLeadMs(remainingMs));
			const expiry = setTimeout(
				() => this.endSocket(socket, "TOKEN_EXPIRED", "Access token has expired: renew it over the socket before it does"),
				remainingMs,
			);
			warning.unref();
			expiry.unref();
			socket.data.session = { claims, warning, expiry } satisfies SocketSession;
		},

		async renewSocketToken(socket: Socket, token: unknown) {
			const current = sessionOf(socket);
			if (typeof token !== "string" || token.length === 0 || token.length > 4096) {
				throw callError("Send auth.refresh with a new access token", "INVALID_TOKEN", 401);
			}
			const claims = this.verifyToken(token);
			if (!current || claims.userId !== current.claims.userId) {
				throw callError("The new token belongs to another user: connect again with it", "INVALID_TOKEN", 401);
			}
			if (this.revocations.isRevoked(claims.sessionId)) throw callError("Access token was revoked", "TOKEN_REVOKED", 401);
			this.holdSocketSession(socket, claims);
			return { expiresAt: claims.exp };
		},

		endSocket(socket: Socket, type: string, reason: string) {
			socket.emit("session.ended", { type, reason });
			socket.disconnect(true);
		},

		/** A session ended (logout, a reused refresh token): its sockets on this gateway go, whatever their token's age. */
		sessionEnded(revocation: Revocation) {
			if (!this.io) return;
			const type = revocation.reason === "Signed out" ? "SIGNED_OUT" : "SESSION_REVOKED";
			for (const socket of this.io.of("/").sockets.values()) {
				if (sessionOf(socket)?.claims.sessionId === revocation.sessionId) this.endSocket(socket, type, revocation.reason);
			}
		},

		/** The caller of a socket call: its token still valid and its session alive, its roles as they are now. */
		async socketCaller(socket: Socket): Promise<SessionUser> {
			const session = sessionOf(socket);
			if (!session || session.claims.exp * 1000 <= Date.now()) {
				setImmediate(() => this.endSocket(socket, "TOKEN_EXPIRED", "Access token has expired"));
				throw callError("Access token has expired", "TOKEN_EXPIRED", 401);
			}
			if (this.revocations.isRevoked(session.claims.sessionId)) {
				setImmediate(() => this.endSocket(socket, "SESSION_REVOKED", "Access token was revoked"));
				throw callError("Access token was revoked", "TOKEN_REVOKED", 401);
			}
			const user = await this.callerOf(session.claims);
			socket.data.user = user;
			return user;
		},

		async handleSocketCall(socket: Socket, action: unknown, params: unknown) {
			const user = await this.screenSocketCall(socket, action, params);
			const problem = inspectJson(params);
			if (problem) {
				refusalLog(this.broker).note("malformed socket payload", `User ${user.id} sent a malformed payload over a socket: ${problem.type}`);
				throw callError(problem.message, problem.type, 400);
			}
			const meta: RequestMeta = { user, $client: { via: "socket", action: action as string }, $socketId: socket.id };
			return this.broker.call(action as string, params ?? {}, { meta, timeout: SOCKET_CALL_TIMEOUT_MS });
		},

		/** What a socket call must pass before it reaches any service; every call counts against the budget. */
		async screenSocketCall(socket: Socket, action: unknown, params: unknown): Promise<SessionUser> {
			const user = await this.socketCaller(socket);
			const budget = await this.socketLimiter.consume(`socket:user:${user.id}`);
			if (!budget.allowed) {
				throw callError("Too many requests, slow down", "RATE_LIMITED", 429, { retryAfter: budget.resetSeconds });
			}
			// The socket whitelist is the actions' own metadata, as the registry knows it from every node.
			const endpoints = typeof action === "string" ? this.broker.registry.getActionEndpoints(action) : undefined;
			if (endpoints && endpoints.endpoints.length === 0) {
				// Known, but no node serves it right now (its node stopped, or is restarting and has announced only part
				// of its services yet): the call can succeed in a moment, and a client must keep what it wanted to send.
				throw callError("Service is temporarily unavailable", "SERVICE_UNAVAILABLE", 503, { retryAfter: 1 });
			}
			const published = endpoints?.endpoints[0]?.action.socket;
			if (!published) {
				refusalLog(this.broker).note("socket call of an unpublished action", `User ${user.id} called ${JSON.stringify(String(action).slice(0, 64))} over a socket: refused`);
				throw callError("No such action is open to sockets", "NOT_FOUND", 404);
			}
			if (action === "chat.typing") {
				const key = `typing:${Number((params as { channelId?: unknown } | null)?.channelId)}`;
				const last = (socket.data[key] as number | undefined) ?? 0;
				if (Date.now() - last < TYPING_INTERVAL_MS) {
					throw callError("Typing is sent at most every 2 seconds", "THROTTLED", 429);
				}
				socket.data[key] = Date.now();
			}
			return user;
		},

		async trackSocket(socket: Socket, user: SessionUser) {
			const sockets = this.localSockets.get(user.id) ?? new Set<string>();
			const firstHere = sockets.size === 0;
			sockets.add(socket.id);
			this.localSockets.set(user.id, sockets);
			const failures = failureLog(this.broker);
			// Who hears of it: the people who share a channel with the user (their rooms), and the user's own devices.
			const roomsOf = () => [...socket.rooms].filter((room) => room !== socket.id);
			if (firstHere) {
				await this.presence.hold(user.id, this.broker.nodeID, this.settings.presenceTtlMs).catch(failures.reporter("presence lease"));
				await this.announcePresence(user.id, roomsOf());
			}
			// socket.io empties a socket's rooms before "disconnect": they are read while it is still leaving.
			let roomsWhenLeaving: string[] = [];
			socket.once("disconnecting", () => (roomsWhenLeaving = roomsOf()));
			socket.once("disconnect", async () => {
				sockets.delete(socket.id);
				if (sockets.size > 0) return;
				this.localSockets.delete(user.id);
				await this.presence.release(user.id, this.broker.nodeID).catch(failures.reporter("presence release"));
				await this.announcePresence(user.id, roomsWhenLeaving);
			});
		},

		/**
		 * Tells whoever shares a channel with the user (and the user's other devices) that their status changed; not
		 * every socket: at a few thousand people online, each connection would otherwise cost a push to everyone.
		 */
		async announcePresence(userId: number, audience?: string[]) {
			try {
				const rooms = audience && audience.length > 0 ? audience : await this.presenceAudience(userId);
				const status = (await this.presence.statusOf([userId]))[userId];
				this.broker.broadcast(PUSH_EVENT, { rooms, event: "presence", data: { userId, status } } satisfies PushPayload, {
					groups: ["api"],
				});
			} catch (err) {
				failureLog(this.broker).report("presence announcement", err);
			}
		},

		async presenceAudience(userId: number) {
			const channels = await this.broker.call<number[], { userId: number }>("chat.channelsOf", { userId });
			return [userRoom(userId), ...channels.map(channelRoom)];
		},
	},

	created() {
		this.localSockets = new Map();
	},

	started() {
		// Leases outlive a few missed beats, so one slow heartbeat does not flap anyone offline.
		const failures = failureLog(this.broker);
		this.presenceHeartbeat = setInterval(async () => {
			for (const userId of this.localSockets.keys()) {
				this.presence.hold(userId, this.broker.nodeID, this.settings.presenceTtlMs).catch(failures.reporter("presence lease"));
			}
			// Users of a crashed gateway: nobody released their lease, so somebody must announce them offline.
			const expired = await this.presence.sweepExpired().catch((err: unknown) => {
				failures.report("presence sweep", err);
				return [];
			});
			for (const userId of expired) await this.announcePresence(userId);
		}, Math.max(1_000, Math.floor(this.settings.presenceTtlMs / 3)));
		this.presenceHeartbeat.unref();
	},

	async stopped() {
		clearInterval(this.presenceHeartbeat);
		const failures = failureLog(this.broker);
		await Promise.all(
			[...this.localSockets.keys()].map((userId) => this.presence.release(userId, this.broker.nodeID).catch(failures.reporter("presence release"))),
		);
	},
};

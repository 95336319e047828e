import { Errors, type Context, type ServiceBroker, type ServiceSchema } from "moleculer";
import ApiGateway, { type ApiSettingsSchema, type IncomingRequest, type Route } from "moleculer-web";
import type { IncomingMessage, ServerResponse } from "node:http";
import { ACTION_ACCESS, mayCall } from "../lib/access";
import { toClientError, type GatewayError } from "../lib/client-errors";
import { clientIp, trustedProxySet } from "../lib/client-ip";
import { intFromEnv, listFromEnv } from "../lib/config";
import { ForbiddenError, TooManyRequestsError, UnauthorizedError } from "../lib/errors";
import { createKeyValueStore, type KeyValueStore } from "../lib/kv-store";
import { answerHealth } from "../lib/health-server";
import { RateLimiter } from "../lib/rate-limiter";
import { registerReadinessProbe } from "../lib/readiness";
import { SocketGatewayMixin, type SocketGatewaySettings } from "../mixins/socket-gateway.mixin";
import type { RequestMeta, SessionUser } from "../types/users";

/** The REST contract of DESIGN §4: route → action. Who may call each action is in lib/access.ts. */
export const ROUTES: Record<string, string> = {
	"POST auth/register": "users.register",
	"POST auth/login": "users.login",
	"POST auth/refresh": "users.refresh",
	"POST auth/logout": "users.logout",
	"GET users/me": "users.me",
	"GET users": "users.list",
	"GET users/:id": "users.get",
	"PATCH users/:id/roles": "users.setRoles",
	"GET channels": "chat.listChannels",
	"POST channels": "chat.createChannel",
	"GET channels/unread": "chat.unread",
	"GET channels/:id": "chat.getChannel",
	"POST channels/:id/join": "chat.join",
	"POST channels/:id/members": "chat.addMember",
	"GET channels/:channelId/messages": "chat.history",
	"POST channels/:channelId/messages": "chat.send",
	"POST channels/:channelId/read": "chat.markRead",
	"POST dms": "chat.openDirect",
	"PATCH messages/:id": "chat.edit",
	"DELETE messages/:id": "chat.delete",
	"POST messages/:id/reactions": "chat.react",
	"GET presence": "api.presence",
	"PUT presence": "api.setPresence",
};

export interface ApiSettings extends ApiSettingsSchema {
	rateLimitPerMinute: number;
	trustedProxies: string[];
	redisUrl?: string;
}

interface ApiState {
	limiter: RateLimiter;
	socketLimiter: RateLimiter;
	store: KeyValueStore;
	trusted: ReadonlySet<string>;
}

interface ApiMethods {
	authenticate(ctx: Context<unknown, RequestMeta>, route: Route, req: IncomingRequest, res: ServerResponse): Promise<SessionUser | null>;
	authorize(ctx: Context<unknown, RequestMeta>, route: Route, req: IncomingRequest): void;
	enforceRateLimit(key: string, res: ServerResponse): Promise<void>;
}

type BrokerHolder = { broker: ServiceBroker };

function sendJson(res: ServerResponse, status: number, body: unknown): void {
	res.writeHead(status, { "Content-Type": "application/json; charset=utf-8" });
	res.end(JSON.stringify(body));
}

const ApiService: ServiceSchema<ApiSettings, ApiMethods, ApiState> = {
	name: "api",
	mixins: [ApiGateway as unknown as ServiceSchema, SocketGatewayMixin as unknown as ServiceSchema],

	settings: {
		port: intFromEnv(process.env.PORT, 8080, "PORT"),
		ip: process.env.HOST ?? "0.0.0.0",
		rateLimitPerMinute: intFromEnv(process.env.RATE_LIMIT_PER_MIN, 100, "RATE_LIMIT_PER_MIN"),
		trustedProxies: listFromEnv(process.env.TRUSTED_PROXIES),
		redisUrl: process.env.REDIS_URL,
		$secureSettings: ["redisUrl"],
		use: [],
		cors: {
			origin: listFromEnv(process.env.CORS_ORIGINS, ["http://localhost:3000"]),
			methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
			allowedHeaders: ["Authorization", "Content-Type"],
			exposedHeaders: ["Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining"],
			credentials: true,
			maxAge: 600,
		},
		routes: [
			{
				path: "/",
				authentication: false,
				authorization: false,
				mappingPolicy: "restrict",
				bodyParsers: { json: false, urlencoded: false },
				aliases: {
					"GET health/live"(this: BrokerHolder, _req: IncomingMessage, res: ServerResponse) {
						return answerHealth(this.broker, "/health/live", res);
					},
					"GET health/ready"(this: BrokerHolder, _req: IncomingMessage, res: ServerResponse) {
						return answerHealth(this.broker, "/health/ready", res);
					},
					"GET metrics"(this: BrokerHolder, _req: IncomingMessage, res: ServerResponse) {
						return answerHealth(this.broker, "/metrics", res);
					},
				},
			},
			{
				path: "/api/v1",
				authentication: true,
				authorization: true,
				mappingPolicy: "restrict",
				whitelist: Object.values(ROUTES),
				aliases: ROUTES,
				bodyParsers: { json: { strict: true, limit: "64kb" }, urlencoded: false },
				callOptions: { timeout: 15_000 },
			},
		],
		onError(this: unknown, req: IncomingMessage, res: ServerResponse, err: GatewayError) {
			const body = toClientError(err);
			if (body.code >= 500) {
				(this as { logger: Context["broker"]["logger"] }).logger.error(`${req.method} ${req.url} failed:`, err);
			}
			if (!res.headersSent) sendJson(res, body.code, body);
			else res.end();
		},
	},

	methods: {
		async authenticate(ctx: Context<unknown, RequestMeta>, _route: Route, req: IncomingRequest, res: ServerResponse) {
			const ip = clientIp(req, this.trusted);
			const header = req.headers.authorization;
			const isPublic = ACTION_ACCESS[req.$alias?.action] === "public";
			if (!header) {
				await this.enforceRateLimit(`ip:${ip}`, res);
				if (isPublic) return null;
				throw new UnauthorizedError("Sign in first: send 'Authorization: Bearer <access token>'", "NO_TOKEN");
			}
			const [scheme, token] = header.trim().split(/\s+/);
			let user: SessionUser;
			try {
				// Authentication schemes are case-insensitive (RFC 9110 §11.1).
				if (scheme.toLowerCase() !== "bearer" || !token) {
					throw new UnauthorizedError("Authorization header must be 'Bearer <access token>'", "INVALID_TOKEN");
				}
				user = await ctx.call<SessionUser, { token: string }>("users.resolveToken", { token });
			} catch (err) {
				// Failed tokens count against the address, so guessing costs the guesser its budget.
				await this.enforceRateLimit(`ip:${ip}`, res);
				// A stale token must not lock a client out of the routes that replace it (login, refresh).
				if (isPublic) return null;
				// resolveToken refuses a token of the wrong shape as a parameter; to the client it is just invalid.
				if (err instanceof Errors.ValidationError) throw new UnauthorizedError("Access token is not valid", "INVALID_TOKEN");
				throw err;
			}
			await this.enforceRateLimit(`user:${user.id}`, res);
			return user;
		},

		authorize(ctx: Context<unknown, RequestMeta>, _route: Route, req: IncomingRequest) {
			const action = req.$alias?.action;
			if (!mayCall(action, ctx.meta.user?.permissions)) {
				const access = ACTION_ACCESS[action];
				if (access === undefined) throw new ForbiddenError("This route is not open to clients");
				throw new ForbiddenError(`You need the '${access}' permission`, "FORBIDDEN", { permission: access });
			}
		},

		async enforceRateLimit(key: string, res: ServerResponse) {
			let decision;
			try {
				decision = await this.limiter.consume(key);
			} catch (err) {
				// The limiter protects the platform; an outage of its store must not take the API down with it.
				this.logger.warn("Rate limiter unavailable, request let through:", (err as Error).message);
				return;
			}
			res.setHeader("X-RateLimit-Limit", String(decision.limit));
			res.setHeader("X-RateLimit-Remaining", String(decision.remaining));
			if (!decision.allowed) {
				res.setHeader("Retry-After", String(decision.resetSeconds));
				throw new TooManyRequestsError(decision.resetSeconds);
			}
		},
	},

	created() {
		this.trusted = trustedProxySet(this.settings.trustedProxies);
		this.store = createKeyValueStore(this.settings.redisUrl, `colony:${this.broker.namespace}:`);
		this.limiter = new RateLimiter(this.store, this.settings.rateLimitPerMinute);
		// The socket mixin's settings are merged into this service's.
		const { socketRateLimitPerMinute } = this.settings as ApiSettings & SocketGatewaySettings;
		this.socketLimiter = new RateLimiter(this.store, socketRateLimitPerMinute);
	},

	started() {
		if (this.settings.redisUrl) registerReadinessProbe(this.broker, "redis:api", () => this.store.isReady());
		registerReadinessProbe(this.broker, "users-service", () => Boolean(this.broker.registry.getActionEndpoints("users.resolveToken")?.hasAvailable()));
	},

	async stopped() {
		await this.store.close();
	},
};

export default ApiService;

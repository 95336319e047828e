import type { Context, ServiceSchema } from "moleculer";
import ApiGateway, { type ApiSettingsSchema, type IncomingRequest, type Route } from "moleculer-web";
import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { resolve } from "node:path";
import { BadRequestError, TooManyRequestsError, UnauthorizedError } from "../../broker/errors";
import { answerHealth } from "../../broker/health";
import { registerReadinessProbe } from "../../broker/readiness";
import { intFromEnv, listFromEnv } from "../../lib/config";
import { toClientError, type GatewayError } from "../../lib/http/client-errors";
import { clientIp, trustedProxySet } from "../../lib/http/client-ip";
import { safeRequestId, SECURITY_HEADERS } from "../../lib/http/headers";
import { inspectJson } from "../../lib/http/json-guard";
import { failureLog } from "../../broker/failures";
import { createPresenceStore, type PresenceStore } from "../../lib/state/presence";
import { RateLimiter, RedisCounters } from "../../lib/state/rate-limiter";
import { RedisConnection } from "../../lib/state/redis";
import type { RequestMeta, SessionUser } from "../../types/users";
import { AiHostsMixin } from "../../mixins/ai-hosts.mixin";
import { drainGateway, type DrainableGateway } from "./drain";
import { GatewayMetrics } from "./gateway-metrics";
import { CallersMixin, type CallersMethods, type CallersState } from "./callers.mixin";
import { SocketGatewayMixin, type SocketGatewaySettings } from "./socket-gateway.mixin";
import { BUILD_WEB_APP_COMMAND, defaultWebRoot, isWebAppBuilt, WEB_APP_NOT_BUILT, webAppAssets, webAppOnly, type ServeFiles } from "./web-app";

export interface ApiSettings extends ApiSettingsSchema {
	rateLimitPerMinute: number;
	trustedProxies: string[];
	redisUrl?: string;
	/** The built web app (web/dist), served at `/`. */
	webRoot: string;
	/** On stop, how long requests under way may take to finish before their connections are closed. */
	drainTimeoutMs: number;
}

interface ApiState {
	limiter: RateLimiter;
	socketLimiter: RateLimiter;
	connectLimiter: RateLimiter;
	/** Shared by the rate limiters and presence; absent in a one-process install without REDIS_URL. */
	redis?: RedisConnection;
	trusted: ReadonlySet<string>;
	/** Every REST alias generated so far, so a route whose service is away answers 503, not 404. */
	knownAliases: Map<string, unknown>;
	requestsInFlight: number;
	/** Set once the node began to stop: answers ask the client to close the connection. */
	draining: boolean;
	server?: Server;
	metrics: GatewayMetrics;
}

interface ApiMethods {
	authenticate(ctx: Context<unknown, RequestMeta>, route: Route, req: IncomingRequest, res: ServerResponse): Promise<SessionUser | null>;
	enforceRateLimit(key: string, req: IncomingMessage, res: ServerResponse): Promise<void>;
	regenerateAutoAliases(route: Route): void;
}

interface GeneratedAlias {
	method: string;
	path: string;
	route: Route;
	_generated?: boolean;
}

type GatewayThis = { broker: Context["broker"]; aliases: GeneratedAlias[]; logger: Context["broker"]["logger"] };

/** Marked once the request was counted in the rate limit, so no request is counted twice or not at all. */
type CountedRequest = IncomingMessage & { $counted?: boolean };

function sendJson(res: ServerResponse, status: number, body: unknown): void {
	res.writeHead(status, { "Content-Type": "application/json; charset=utf-8" });
	res.end(JSON.stringify(body));
}

const generateAliases = (ApiGateway.methods as { regenerateAutoAliases(this: unknown, route: Route): void }).regenerateAutoAliases;

/**
 * The gateway (DESIGN §3): REST under /api/v1, built from the `rest` and `access` each action declares, and
 * socket.io on the same server. It authenticates the caller and marks the call as a client's; the access
 * middleware on the node that runs the action decides whether that caller may. It also serves the built web
 * app at `/`.
 */
const ApiService: ServiceSchema<ApiSettings, ApiMethods, ApiState & CallersState & CallersMethods & { presence: PresenceStore }> & {
	merged(schema: ServiceSchema<ApiSettings>): void;
} = {
	name: "api",
	mixins: [
		ApiGateway as unknown as ServiceSchema,
		CallersMixin as unknown as ServiceSchema,
		SocketGatewayMixin as unknown as ServiceSchema,
		AiHostsMixin as unknown as ServiceSchema,
	],

	settings: {
		rest: "/",
		port: intFromEnv(process.env.PORT, 8080, "PORT"),
		ip: process.env.HOST ?? "0.0.0.0",
		rateLimitPerMinute: intFromEnv(process.env.RATE_LIMIT_PER_MIN, 100, "RATE_LIMIT_PER_MIN"),
		trustedProxies: listFromEnv(process.env.TRUSTED_PROXIES),
		redisUrl: process.env.REDIS_URL,
		$secureSettings: ["redisUrl"],
		webRoot: resolve(process.env.WEB_ROOT || defaultWebRoot()),
		drainTimeoutMs: intFromEnv(process.env.SHUTDOWN_DRAIN_MS, 10_000, "SHUTDOWN_DRAIN_MS"),
		use: [],
		// Each answer gets one access-log line of its own (below), without the query string.
		logRequest: null,
		logResponse: null,
		rootCallOptions: function prepareRequest(this: GatewayThis, options: { requestID?: string }, req: IncomingMessage, res: ServerResponse) {
			const requestID = safeRequestId(req.headers["x-request-id"] ?? req.headers["x-correlation-id"]) ?? randomUUID();
			options.requestID = requestID;
			// Browsers send Origin on their own page's module scripts and API calls too: such a request is not
			// cross-origin, and CORS_ORIGINS (the other origins allowed) must not refuse it.
			if (isSameOrigin(req)) delete req.headers.origin;
			for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
			const gateway = this as unknown as ApiState;
			gateway.requestsInFlight += 1;
			res.once("close", () => {
				gateway.requestsInFlight -= 1;
				// A client that goes away before its answer: work still running for it (an inference) is stopped.
				if (!res.writableFinished) void this.broker.broadcast("gateway.request.aborted", { requestID }, { groups: ["ai"] });
			});
			// A stopping gateway answers what it was asked, and tells the client not to keep the connection.
			if (gateway.draining) res.setHeader("Connection", "close");
			const started = process.hrtime.bigint();
			res.once("finish", () => {
				const ms = Number(process.hrtime.bigint() - started) / 1e6;
				// moleculer-web cuts the route's prefix off `url` as it routes; `originalUrl` keeps the path as asked.
				const path = ((req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? "").split("?")[0];
				gateway.metrics.answered(req.method, path, res.statusCode, ms);
				this.logger.info(`${req.method} ${path} ${res.statusCode} ${ms.toFixed(1)} ms`);
			});
		} as unknown as ApiSettingsSchema["rootCallOptions"],
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
					"GET health/live"(this: GatewayThis, req: IncomingMessage, res: ServerResponse) {
						return answerHealth(this.broker, "/health/live", req, res);
					},
					"GET health/ready"(this: GatewayThis, req: IncomingMessage, res: ServerResponse) {
						return answerHealth(this.broker, "/health/ready", req, res);
					},
					"GET metrics"(this: GatewayThis, req: IncomingMessage, res: ServerResponse) {
						return answerHealth(this.broker, "/metrics", req, res);
					},
				},
			},
			{
				path: "/api/v1",
				authentication: true,
				authorization: false,
				// Every action that declares `rest` (and therefore `access`) gets its route here.
				autoAliases: true,
				mappingPolicy: "restrict",
				bodyParsers: { json: { strict: true, limit: "64kb" }, urlencoded: false },
				// No call timeout here: each action's own applies (REQUEST_TIMEOUT_MS, longer for inference).
				onBeforeCall(this: unknown, _ctx: Context, _route: Route, req: IncomingRequest & { body?: unknown; query?: unknown }) {
					// What a write needs goes in its body: a query string on one is where secrets leak into logs.
					if (req.method !== "GET" && req.method !== "HEAD" && (req.url ?? "").includes("?")) {
						throw new BadRequestError("Send the parameters of this request in its JSON body, not in the URL", "QUERY_NOT_ALLOWED");
					}
					const problem = inspectJson(req.body) ?? inspectJson(req.query);
					if (problem) throw new BadRequestError(problem.message, problem.type);
				},
			},
		],
		onError(this: unknown, req: IncomingMessage, res: ServerResponse, err: GatewayError) {
			let body = toClientError(err);
			const { broker } = this as GatewayThis;
			// A request refused before it was authenticated (bad body, bad encoding, unknown route) still costs its
			// sender: it counts against the address.
			if (!(req as CountedRequest).$counted) {
				const gateway = this as unknown as ApiState;
				void gateway.limiter.consume(`ip:${clientIp(req, gateway.trusted)}`);
			}
			// Routes come from the services' nodes: before any has joined, no path is known yet, and the honest
			// answer is that the platform is not available, not that the path does not exist.
			const path = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? "";
			if (body.code === 404 && path.startsWith("/api/") && !broker.registry.getActionEndpoints("users.resolveToken")?.hasAvailable()) {
				body = toClientError(Object.assign(new Error("Service is temporarily unavailable"), { code: 503 }));
			}
			if (body.code >= 500) {
				(this as { logger: Context["broker"]["logger"] }).logger.error(`${req.method} ${(req.url ?? "").split("?")[0]} failed:`, err);
			}
			const retryAfter = (body.data as { retryAfter?: unknown } | undefined)?.retryAfter;
			if (!res.headersSent && typeof retryAfter === "number") res.setHeader("Retry-After", String(retryAfter));
			if (!res.headersSent) sendJson(res, body.code, body);
			else res.end();
		},
	},

	actions: {
		// moleculer-web's alias listing would publish the route table, and its route editing would let any node
		// of the cluster open routes on the gateway.
		listAliases: false,
		addRoute: false,
		removeRoute: false,
	},

	events: {
		// moleculer-web regenerates the routes half a second after the services change; until then a service that
		// just joined would answer 404. The routes are few: they are built again at once.
		"$services.changed"() {
			for (const route of (this as unknown as { routes: Route[] }).routes) {
				if (route.opts.autoAliases) this.regenerateAutoAliases(route);
			}
		},
	},

	methods: {
		async authenticate(ctx: Context<unknown, RequestMeta>, _route: Route, req: IncomingRequest, res: ServerResponse) {
			const action = req.$action as { name: string; access?: string } | undefined;
			const ip = clientIp(req, this.trusted);
			ctx.meta.$client = { via: "rest", action: action?.name ?? "", ip };
			const header = req.headers.authorization;
			const isPublic = action?.access === "public";
			if (!header) {
				await this.enforceRateLimit(`ip:${ip}`, req, res);
				return null;
			}
			const [scheme, token] = header.trim().split(/\s+/);
			let user: SessionUser;
			try {
				// Authentication schemes are case-insensitive (RFC 9110 §11.1).
				if (scheme.toLowerCase() !== "bearer" || !token) {
					throw new UnauthorizedError("Authorization header must be 'Bearer <access token>'", "INVALID_TOKEN");
				}
				user = await this.resolveCaller(token);
			} catch (err) {
				// Failed tokens count against the address, so guessing costs the guesser its budget.
				await this.enforceRateLimit(`ip:${ip}`, req, res);
				// A stale token must not lock a client out of the routes that replace it (login, refresh).
				if (isPublic) return null;
				// The users service refuses a token of the wrong shape as a parameter; to the client it is just invalid.
				if ((err as Error).name === "ValidationError") throw new UnauthorizedError("Access token is not valid", "INVALID_TOKEN");
				throw err;
			}
			await this.enforceRateLimit(`user:${user.id}`, req, res);
			return user;
		},

		async enforceRateLimit(key: string, req: IncomingMessage, res: ServerResponse) {
			(req as CountedRequest).$counted = true;
			// Without Redis the limiter counts on this node alone: it never fails a request for its store.
			const decision = await this.limiter.consume(key);
			res.setHeader("X-RateLimit-Limit", String(decision.limit));
			res.setHeader("X-RateLimit-Remaining", String(decision.remaining));
			if (!decision.allowed && !res.headersSent) {
				res.setHeader("Retry-After", String(decision.resetSeconds));
				throw new TooManyRequestsError(decision.resetSeconds);
			}
		},

		// moleculer-web drops the routes of a service whose last node left; clients should then see 503, as
		// for any unavailable service, not 404 as for a path that never existed.
		regenerateAutoAliases(route: Route) {
			const gateway = this as unknown as GatewayThis & { optimizeAliasesOrder(): void };
			// moleculer-web generates the first routes while it is created, before this service's created() ran.
			this.knownAliases ??= new Map();
			generateAliases.call(this, route);
			const key = (alias: GeneratedAlias) => `${alias.method} ${alias.path}`;
			const current = new Set(gateway.aliases.filter((alias) => alias.route === route).map(key));
			for (const alias of gateway.aliases) if (alias.route === route && alias._generated) this.knownAliases.set(key(alias), alias);
			for (const [name, alias] of this.knownAliases) {
				if (!current.has(name) && (alias as GeneratedAlias).route === route) gateway.aliases.push(alias as GeneratedAlias);
			}
			gateway.optimizeAliasesOrder();
		},
	},

	// moleculer-web builds its file server from `assets` while it is created, before this service's created() runs:
	// the folder is taken from `webRoot` (WEB_ROOT's, a test's or the default) as soon as the settings are merged.
	merged(schema: ServiceSchema<ApiSettings>) {
		if (schema.settings) schema.settings.assets = webAppAssets(schema.settings.webRoot);
	},

	created() {
		// moleculer-web's file server gets every request no route answered; only the web app's own paths may reach it.
		const gateway = this as unknown as { serve: ServeFiles };
		gateway.serve = webAppOnly(gateway.serve, (res) => sendJson(res, 503, WEB_APP_NOT_BUILT));
		this.trusted = trustedProxySet(this.settings.trustedProxies);
		this.requestsInFlight = 0;
		this.draining = false;
		this.metrics = new GatewayMetrics(this.broker);
		const failures = failureLog(this.broker);
		const prefix = `colony:${this.broker.namespace}:`;
		this.redis = this.settings.redisUrl ? new RedisConnection(this.settings.redisUrl, failures.reporter("redis")) : undefined;
		const counters = this.redis && new RedisCounters(this.redis, prefix);
		this.limiter = new RateLimiter(this.settings.rateLimitPerMinute, 60_000, counters, failures.reporter("shared rate limit"));
		// The socket mixin's settings are merged into this service's.
		const { socketRateLimitPerMinute, socketConnectsPerMinute } = this.settings as ApiSettings & SocketGatewaySettings;
		this.socketLimiter = new RateLimiter(socketRateLimitPerMinute, 60_000, counters, failures.reporter("shared socket rate limit"));
		this.connectLimiter = new RateLimiter(socketConnectsPerMinute, 60_000, counters, failures.reporter("shared socket connect limit"));
		this.presence = createPresenceStore(this.redis, prefix);
	},

	started() {
		const { webRoot } = this.settings;
		if (!isWebAppBuilt(webRoot)) {
			this.logger.warn(`The web app is not built (no index.html in ${webRoot}): its pages answer 503 until \`${BUILD_WEB_APP_COMMAND}\` builds it`);
		}
		const redis = this.redis;
		// Without Redis the gateway still serves (local rate limits, unknown presence): degraded, not unready.
		if (redis) registerReadinessProbe(this.broker, "redis:api", () => redis.isReady(), { required: false });
		registerReadinessProbe(this.broker, "users-service", () => Boolean(this.broker.registry.getActionEndpoints("users.session")?.hasAvailable()));
	},

	async stopped() {
		// Runs before the mixins' own stops (Moleculer stops a service's mixins in reverse): sockets and requests
		// are let go here, before moleculer-web waits for its server to close.
		this.draining = true;
		const { cutOff } = await drainGateway(this as unknown as DrainableGateway, this.settings.drainTimeoutMs);
		if (cutOff > 0) this.logger.warn(`${cutOff} request(s) were still running after ${this.settings.drainTimeoutMs} ms and were cut off`);
		// moleculer-web's own half-second debounced regeneration would otherwise still run after the stop.
		(this as unknown as { regenerateAllAutoAliases?: { cancel?(): void } }).regenerateAllAutoAliases?.cancel?.();
		this.limiter.close();
		this.socketLimiter.close();
		this.connectLimiter.close();
		await this.presence.close();
	},
};

export default ApiService;

/** The Origin header names this very server (the host the browser asked for). */
function isSameOrigin(req: IncomingMessage): boolean {
	const origin = req.headers.origin;
	if (!origin || !req.headers.host) return false;
	try {
		return new URL(origin).host === req.headers.host;
	} catch {
		return false;
	}
}

import type { BrokerOptions, Errors, LoggerConfig, Middleware } from "moleculer";
import { Middleware as ChannelsMiddleware } from "@moleculer/channels";
import { hostname } from "node:os";
import { ResilientRedisCacher } from "./broker/cacher";
import { ScrapedPrometheusReporter } from "./broker/metrics";
import { tracingFrom } from "./broker/tracing";
import { consoleLogger } from "./broker/logging";
import { afterNodeStarted } from "./broker/node-startup";
import { colonyReplOptions } from "./broker/repl/commands";
// Registers the AI strategies by name (an ai action's `strategy` reaches other nodes as a name).
import "./broker/strategies/ai.strategies";
import { AccessMiddleware } from "./broker/middlewares/access.middleware";
import { AiInFlightMiddleware } from "./broker/middlewares/ai-in-flight.middleware";
import { CallSafetyMiddleware } from "./broker/middlewares/call-safety.middleware";
import { DatabaseUnavailableMiddleware } from "./broker/middlewares/database-unavailable.middleware";
import { RejectSyncThrowsMiddleware } from "./broker/middlewares/reject-sync-throws.middleware";
import { intFromEnv, loadSecrets } from "./lib/config";
import { natsConnectionFrom, type NatsConnection } from "./lib/nats-connection";
import { redisOptions } from "./lib/state/redis";

type Env = Record<string, string | undefined>;

/**
 * Both NATS connections (transporter and durable queue) reconnect forever, a second apart. An attempt ends after 5 s
 * (NATS's default is 20): a server that verifies clients drops one without a certificate, and the client only sees
 * the silence.
 */
const NATS_CONNECTING = { timeout: 5_000, maxReconnectAttempts: -1, reconnectTimeWait: 1_000 };

function transporterFrom(env: Env, nats: NatsConnection | undefined): BrokerOptions["transporter"] {
	if (nats) return { type: "NATS", options: { ...nats, ...NATS_CONNECTING } };
	// Any other Moleculer transporter string ("redis://…", "amqp://…") is handed to Moleculer as it is.
	return env.TRANSPORTER ? (env.TRANSPORTER as unknown as BrokerOptions["transporter"]) : undefined;
}

/**
 * The durable queue for work that must not be lost (DESIGN §3): NATS JetStream on a NATS cluster, kept on the
 * server's disk and redelivered when the node working on a job dies; in-process when the node runs alone.
 */
function durableQueueFrom(env: Env, nats: NatsConnection | undefined): Middleware {
	const prefix = env.NAMESPACE ?? "colony";
	const DAY_NS = 24 * 3600 * 1e9;
	const adapter = nats
		? {
				type: "NATS",
				options: {
					prefix,
					nats: {
						// The same servers, credentials and TLS as the transporter (no `url`: the adapter would drop its credentials).
						connectionOptions: { ...nats, ...NATS_CONNECTING },
						// A job nobody took for a day has lost its point.
						streamConfig: { max_age: DAY_NS },
					},
				},
			}
		: { type: "Fake", options: { prefix } };
	// The typings require every option of every adapter; the package fills in its defaults itself.
	return ChannelsMiddleware({ adapter } as unknown as Parameters<typeof ChannelsMiddleware>[0]) as unknown as Middleware;
}

function cacherFrom(env: Env): BrokerOptions["cacher"] {
	const choice = (env.CACHER ?? "").toLowerCase();
	const redisUrl = /^rediss?:\/\//.test(choice) ? env.CACHER : env.REDIS_URL;
	if (choice === "memory" || (!redisUrl && choice === "")) return { type: "Memory", options: { maxParamsLength: 100 } };
	if (!redisUrl) throw new Error(`CACHER=${env.CACHER} needs REDIS_URL (or CACHER=redis://…)`);
	return new ResilientRedisCacher({ redis: redisOptions(redisUrl), prefix: `MOL-${env.NAMESPACE ?? "colony"}`, ttl: 3_600, maxParamsLength: 100 });
}

function loggerFrom(env: Env): LoggerConfig[] {
	const level = (env.LOG_LEVEL ?? "info") as "info";
	const loggers: LoggerConfig[] = [
		// One line per AI request and per traced span goes to its own log (below), not to the console.
		consoleLogger(env, { "AI-REQUESTS": "warn", TRACES: "warn", "**": level }),
	];
	if (env.LOG_DIR) {
		// "jsonext" puts the fields of a logged object at the top of its line: the AI request log's lines are its records.
		const file = (name: string, levels: Record<string, string | false>, formatter = "json"): LoggerConfig => ({
			type: "File",
			options: { level: levels, folder: env.LOG_DIR, filename: `${name}-{nodeID}-{date}.log`, formatter },
		});
		// The gateway logs a line per request: those go to the access log, its warnings and errors stay in the app log.
		// The ai nodes log a line per inference: those go to the AI request log.
		loggers.push(
			file("app", { API: "warn", "AI-REQUESTS": false, TRACES: false, "**": level }),
			file("access", { API: level, "**": false }),
			file("ai", { "AI-REQUESTS": "info", "**": false }, "jsonext"),
			file("traces", { TRACES: "info", "**": false }, "jsonext"),
		);
	}
	return loggers;
}

/** Broker options for this node; every one can be changed from the environment (see DESIGN §2). */
export function createBrokerOptions(env: Env = process.env): BrokerOptions {
	const nats = natsConnectionFrom(env);
	return {
		namespace: env.NAMESPACE ?? "colony",
		nodeID: env.NODE_ID || `${hostname()}-${process.pid}`,
		logger: env.LOG_LEVEL === "silent" ? false : loggerFrom(env),
		transporter: transporterFrom(env, nats),
		cacher: cacherFrom(env),
		serializer: "JSON",

		requestTimeout: intFromEnv(env.REQUEST_TIMEOUT_MS, 10_000, "REQUEST_TIMEOUT_MS"),
		retryPolicy: {
			enabled: true,
			retries: 3,
			delay: 100,
			maxDelay: 1_000,
			factor: 2,
			check: (err: Error) => Boolean((err as Errors.MoleculerRetryableError).retryable),
		},
		maxCallLevel: 100,
		// Announce this node's services the moment they start: Moleculer's default waits a second, during which
		// other nodes do not know a new gateway and their pushes to its sockets are lost.
		// (The option exists in Moleculer 0.15's broker but not in its typings.)
		transit: { serviceChangedDebounceTime: 0 } as BrokerOptions["transit"],
		// A node that died without a word (an AI host's node killed mid-inference) is given up after 6 s, and its
		// pending requests are retried elsewhere; Moleculer's default would wait 15 s.
		heartbeatInterval: intFromEnv(env.HEARTBEAT_INTERVAL_S, 2, "HEARTBEAT_INTERVAL_S"),
		heartbeatTimeout: intFromEnv(env.HEARTBEAT_TIMEOUT_S, 6, "HEARTBEAT_TIMEOUT_S"),
		contextParamsCloning: false,
		tracking: { enabled: true, shutdownTimeout: 10_000 },
		disableBalancer: false,
		registry: { strategy: "RoundRobin", preferLocal: true },
		circuitBreaker: {
			enabled: true,
			threshold: 0.5,
			minRequestCount: 20,
			windowTime: 60,
			halfOpenTime: 10_000,
		},
		bulkhead: { enabled: true, concurrency: 100, maxQueueSize: 1_000 },
		validator: true,
		errorHandler: undefined,
		// Moleculer's own middlewares in its order, innermost first, with Colony's placed where they must run:
		// access is judged before a cached answer could be served to a caller who may not have it; call safety
		// sits just inside Retry, which then repeats only calls that are safe to repeat; no synchronous throw may
		// reach the bulkhead, which would never free its slot; a database out of reach is a 503, right at the handler.
		internalMiddlewares: false,
		middlewares: [
			"ActionHook",
			DatabaseUnavailableMiddleware,
			"Validator",
			RejectSyncThrowsMiddleware,
			AiInFlightMiddleware as unknown as Middleware,
			"Bulkhead",
			"Cacher",
			AccessMiddleware,
			"ContextTracker",
			"CircuitBreaker",
			"Timeout",
			CallSafetyMiddleware,
			"Retry",
			"Fallback",
			"ErrorHandler",
			"Tracing",
			"Metrics",
			"Debounce",
			"Throttle",
			durableQueueFrom(env, nats),
		],
		metrics: {
			enabled: env.METRICS !== "false",
			reporter: [
				new ScrapedPrometheusReporter({
					defaultLabels: (registry) => ({ namespace: registry.broker.namespace, nodeID: registry.broker.nodeID }),
					// What identifies the host (name, OS user and home, addresses and MACs, kernel) stays out.
					excludes: ["os.hostname", "os.user.*", "os.network.*", "os.type", "os.release", "os.arch", "os.platform", "os.cpu.info.*", "process.arguments", "process.pid", "process.ppid"],
				}),
			] as unknown as NonNullable<Exclude<BrokerOptions["metrics"], boolean>>["reporter"],
		},
		tracing: tracingFrom(env),
		// What `broker.repl()` opens with (`npm run repl`, `--repl`): Colony's operator commands beside Moleculer's.
		replOptions: colonyReplOptions,
	};
}

// A function, so a setting that cannot work (a certificate file that is missing) fails inside the start, which
// reports it in one line, rather than on import; moleculer-runner calls a config function as well. Under the runner
// a node does what `npm start` does around its broker: the secrets are checked first, and once started a node
// without the gateway opens its health and metrics listener.
export default (): BrokerOptions => {
	loadSecrets();
	return {
		...createBrokerOptions(),
		started: async (broker) => {
			await afterNodeStarted(broker);
		},
	};
};

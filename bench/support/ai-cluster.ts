import { ServiceBroker, type ServiceSchema } from "moleculer";
import { connect as connectNats } from "nats";
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import type { AiStrategyName } from "../../broker/strategies/ai.strategies";
import { hostBoard } from "../../lib/ai/host-board";
import { AiHostsMixin } from "../../mixins/ai-hosts.mixin";
import { createBrokerOptions } from "../../moleculer.config";
import AiService, { type AiSettings } from "../../services/ai/ai.service";
import UsersService from "../../services/users/users.service";
import type { AiChatAnswer, AiChatParams } from "../../types/ai";
import type { SessionUser } from "../../types/users";
import { NodeProcess, sleep } from "./processes";
import type { Cleanup, Supervisor } from "./supervisor";

export const CHAT_MODEL = "llama3.2";
const EMBED_MODEL = "nomic-embed-text";
/** A member's default budget is 30 AI requests a minute: the bench spreads its calls over this many members. */
export const BENCH_MEMBERS = 256;
const MEMBER_ID_BASE = 900_000;

/**
 * Stands in for the api gateway calling `ai.chat` for its clients: no actions of its own, but the AiHostsMixin the
 * gateway has, so this broker's strategies see the hosts' heartbeats.
 */
const CALLER_SERVICE: ServiceSchema = { name: "aiBenchCaller", mixins: [AiHostsMixin as ServiceSchema] };

/**
 * The ai service as one GPU host's node runs it in production, bound to a test Ollama; `strategy` is what
 * AI_STRATEGY would give every balanced action (the service reads that variable once, when it is loaded).
 */
export function aiNodeSchema(ollamaHost: string, parallel: number, strategy: AiStrategyName, redisUrl: string | undefined): ServiceSchema {
	const actions = Object.fromEntries(
		Object.entries(AiService.actions ?? {}).map(([name, action]) => [
			name,
			typeof action === "object" && action !== null && "strategy" in action ? { ...action, strategy } : action,
		]),
	);
	const settings: AiSettings = { ...AiService.settings!, ollamaHost, parallel, chatModel: CHAT_MODEL, embedModel: EMBED_MODEL, strategy, redisUrl };
	return { ...(AiService as unknown as ServiceSchema), actions, settings } as ServiceSchema;
}

/** Members of the default `member` role as the gateway would put them in `meta.user`, ids far from real ones. */
export function benchMembers(count = BENCH_MEMBERS): SessionUser[] {
	const expires = Math.floor(Date.now() / 1_000) + 3_600;
	return Array.from({ length: count }, (_, i) => ({
		id: MEMBER_ID_BASE + i,
		username: `aibench${i}`,
		displayName: `AI bench ${i}`,
		roles: ["member"],
		permissions: ["ai:use"],
		tokenId: `aibench-token-${i}`,
		tokenExpiresAt: expires,
		sessionId: `aibench-session-${i}`,
	}));
}

export interface BrokerEnv {
	namespace: string;
	nodeID: string;
	/** NATS URL, or undefined for a broker alone in its process (in-process transport). */
	nats?: string;
	redis: string;
}

/** A broker with production's options (moleculer.config.ts) for a node started with SERVICES naming its services, silent. */
export function productionBroker(env: BrokerEnv, schemas: ServiceSchema[]): ServiceBroker {
	const options = createBrokerOptions({
		NAMESPACE: env.namespace,
		NODE_ID: env.nodeID,
		TRANSPORTER: env.nats,
		REDIS_URL: env.redis,
		SERVICES: schemas.map((schema) => (schema === CALLER_SERVICE ? "api" : schema.name)).join(","),
		LOG_LEVEL: "silent",
	});
	const broker = new ServiceBroker(options);
	for (const schema of schemas) broker.createService(schema);
	return broker;
}

export function callerBroker(env: BrokerEnv, extra: ServiceSchema[] = []): ServiceBroker {
	return productionBroker(env, [CALLER_SERVICE, ...extra]);
}

/** The users service on an in-memory SQLite database: the real `users.aiPolicyOf`, cached as in production. */
export function usersNodeSchema(): ServiceSchema {
	return { ...(UsersService as unknown as ServiceSchema), settings: { ...UsersService.settings, databaseUri: "sqlite::memory:" } } as ServiceSchema;
}

const HOSTS_SCRIPT = resolve(__dirname, "../ollama-hosts.js");

export interface HostStats {
	served: number;
	refused: number;
	maxConcurrent: number;
}

/**
 * GPU hosts: test Ollamas with a fixed time per request and `slots` slots each, in a child process (bench/ollama-hosts.ts)
 * so that their timers and HTTP work never wait behind the ai nodes' event loop, as a real Ollama would not.
 */
export class OllamaHosts {
	private reports = 0;

	private constructor(
		readonly process: NodeProcess,
		readonly urls: string[],
	) {}

	static async start(supervisor: Supervisor, cleanup: Cleanup, count: number, latencyMs: number, slots: number): Promise<OllamaHosts> {
		const child = new NodeProcess("test Ollamas", HOSTS_SCRIPT, { ...process.env, HOSTS: String(count), LATENCY_MS: String(latencyMs), SLOTS: String(slots), MODEL: CHAT_MODEL });
		supervisor.track(child);
		cleanup.add("stop the test Ollamas", () => child.stop());
		const [, urls] = await child.waitForLine(/^ollama hosts listening: (.+)$/, 15_000);
		return new OllamaHosts(child, urls.split(" "));
	}

	/** What each host answered since the last call (or the start). */
	async stats(): Promise<HostStats[]> {
		const report = ++this.reports;
		this.process.child.kill("SIGUSR2");
		const [, json] = await this.process.waitForLine(new RegExp(`^stats ${report} (.+)$`), 5_000);
		return JSON.parse(json) as HostStats[];
	}
}

/** Waits until `caller` knows the ai nodes `nodeIDs` and has heard a healthy heartbeat from each. */
export async function waitForHosts(caller: ServiceBroker, nodeIDs: string[], timeoutMs = 20_000): Promise<void> {
	const board = hostBoard(caller);
	const deadline = performance.now() + timeoutMs;
	while (performance.now() < deadline) {
		const endpoints = caller.registry.getActionEndpoints("ai.chat")?.endpoints.map((endpoint) => endpoint.id) ?? [];
		const seen = nodeIDs.every((id) => endpoints.includes(id) && board.status(id)?.healthy === true);
		if (seen) return;
		await sleep(50);
	}
	throw new Error(`the caller did not see ${nodeIDs.length} healthy ai nodes within ${timeoutMs} ms`);
}

/** A chat request no cache can answer: its text is new, and only temperature-0 answers are cached. */
export function chatParams(seq: number, tag: string): AiChatParams {
	return {
		messages: [{ role: "user", content: `Bench question ${tag}-${seq}: summarise the open tasks of project ${seq % 97} for the weekly meeting.` }],
		options: { temperature: 0.7 },
	};
}

export function callChat(broker: ServiceBroker, params: AiChatParams, user: SessionUser): Promise<AiChatAnswer> {
	return broker.call<AiChatAnswer, AiChatParams>("ai.chat", params, { meta: { user } });
}

export interface ClosedLoopResult {
	durationMs: number;
	completed: number;
	latenciesMs: number[];
	errors: number;
	lastError?: string;
	/** Answers in the window by the ai node (or host) that gave them. */
	byHost: Map<string, number>;
}

/**
 * `inFlight` callers, each sending its next request as soon as its last is answered (`send` answers who served
 * it). Requests answered within the measured window (after the warm-up) count; the callers stop sending when it
 * closes and the rest drain.
 */
export async function closedLoop(
	send: (seq: number, caller: number) => Promise<string>,
	options: { inFlight: number; warmupMs: number; durationMs: number; onWindowStart?: () => void; onWindowEnd?: () => void },
): Promise<ClosedLoopResult> {
	const startedAt = performance.now();
	const windowStart = startedAt + options.warmupMs;
	const windowEnd = windowStart + options.durationMs;
	const result: ClosedLoopResult = { durationMs: options.durationMs, completed: 0, latenciesMs: [], errors: 0, byHost: new Map() };
	let seq = 0;
	const windowTimers = [
		setTimeout(() => options.onWindowStart?.(), options.warmupMs),
		setTimeout(() => options.onWindowEnd?.(), options.warmupMs + options.durationMs),
	];
	const caller = async (_: unknown, index: number) => {
		while (performance.now() < windowEnd) {
			const sent = performance.now();
			try {
				const host = await send(seq++, index);
				const done = performance.now();
				if (done >= windowStart && done < windowEnd) {
					result.completed++;
					result.latenciesMs.push(done - sent);
					result.byHost.set(host, (result.byHost.get(host) ?? 0) + 1);
				}
			} catch (err) {
				const done = performance.now();
				if (done >= windowStart && done < windowEnd) result.errors++;
				result.lastError = (err as Error).message;
			}
		}
	};
	try {
		await Promise.all(Array.from({ length: options.inFlight }, caller));
	} finally {
		for (const timer of windowTimers) clearTimeout(timer);
	}
	return result;
}

/** Runs `count` calls one after another and answers their latencies in ms. */
export async function sequentialCalls(count: number, call: () => Promise<unknown>): Promise<number[]> {
	const latencies = new Array<number>(count);
	for (let i = 0; i < count; i++) {
		const started = performance.now();
		await call();
		latencies[i] = performance.now() - started;
	}
	return latencies;
}

/** Deletes the JetStream streams of the run's namespaces (`<namespace>_<queue>`); answers how many it deleted. */
export async function clearJetStreamNamespaces(natsUrl: string, prefix: string): Promise<number> {
	const nats = await connectNats({ servers: natsUrl.replace("nats://", ""), timeout: 5_000 });
	let deleted = 0;
	try {
		const manager = await nats.jetstreamManager();
		for await (const stream of manager.streams.list()) {
			if (stream.config.name.startsWith(prefix)) {
				await manager.streams.delete(stream.config.name);
				deleted++;
			}
		}
	} finally {
		await nats.close();
	}
	return deleted;
}

import { Errors, type Context, type ServiceSchema, type ServiceSettingSchema } from "moleculer";
import { PassThrough, Readable } from "node:stream";
import type { ChatResponse, ModelResponse } from "ollama";
import { failureLog } from "../../broker/failures";
import { ForbiddenError, NotFoundError, TooManyRequestsError } from "../../broker/errors";
import { registerReadinessProbe, unregisterReadinessProbe } from "../../broker/readiness";
import type { AiStrategyName } from "../../broker/strategies/ai.strategies";
import { FairQueue, QueueFullError } from "../../lib/ai/fair-queue";
import { readGpus, type GpuReading } from "../../lib/ai/gpu";
import { hostBoard, withTag } from "../../lib/ai/host-board";
import { classifyOllamaError, ollamaFor, type OllamaFailure } from "../../lib/ai/ollama";
import { schemaProblems } from "../../lib/ai/schema-check";
import { intFromEnv } from "../../lib/config";
import { RateLimiter, RedisCounters } from "../../lib/state/rate-limiter";
import { RedisConnection } from "../../lib/state/redis";
import { AiHostsMixin } from "../../mixins/ai-hosts.mixin";
import {
	DEFAULT_AI_POLICY,
	type AiChatAnswer,
	type AiChatChunk,
	type AiChatParams,
	type AiClassifyAnswer,
	type AiClassifyParams,
	type AiEmbedAnswer,
	type AiEmbedParams,
	type AiGenerateAnswer,
	type AiGenerateParams,
	type AiHostStatus,
	type AiPolicy,
	type AiRolePolicy,
	type AiUsage,
	type ChatMessage,
} from "../../types/ai";
import type { RequestMeta, SessionUser } from "../../types/users";
import { EmbeddingCache } from "./embedding-cache";
import { AiTelemetry } from "./telemetry";

export interface AiSettings extends ServiceSettingSchema {
	/** The Ollama of this node's GPU host. */
	ollamaHost: string;
	chatModel: string;
	embedModel: string;
	/** Inference requests the host runs at once (Ollama's OLLAMA_NUM_PARALLEL). */
	parallel: number;
	/** Longest an inference may take, start to last token. */
	timeoutMs: number;
	heartbeatMs: number;
	strategy: AiStrategyName;
	redisUrl?: string;
}

interface AiState {
	queue: FairQueue;
	status: AiHostStatus;
	heartbeat: NodeJS.Timeout;
	beats: number;
	/** Abort controllers of running requests by request id: a client that went away stops its inference. */
	running: Map<string, Set<AbortController>>;
	stopping: AbortController;
	redis?: RedisConnection;
	limiter: RateLimiter;
	embeddings: EmbeddingCache;
	telemetry: AiTelemetry;
	/** When this node last broadcast its status, and the broadcast waiting for its turn. */
	announcedAt: number;
	pendingAnnouncement?: NodeJS.Timeout;
	/** The AI policy as the users service last gave it, and until when it is used without asking again. */
	policy?: { value: AiPolicy; until: number; lookup?: Promise<AiPolicy> };
}

interface Admission {
	release(): void;
	signal: AbortSignal;
	queuedMs: number;
	done(): void;
}

interface AiMethods {
	admit(ctx: AiContext, model: string): Promise<Admission>;
	policyFor(ctx: AiContext, user: SessionUser | null | undefined): Promise<AiRolePolicy>;
	currentPolicy(ctx: AiContext): Promise<AiPolicy>;
	requireModelAllowed(user: SessionUser | null | undefined, model: string, policy: AiRolePolicy): void;
	hostFailure(err: unknown, model: string): Error;
	chatOnce(ctx: AiContext, messages: ChatMessage[], model: string, options: object, format?: object): Promise<{ response: ChatResponse; usage: AiUsage }>;
	streamChat(ctx: AiContext, params: AiChatParams, model: string): Promise<Readable>;
	beat(): Promise<void>;
	announce(now?: boolean): void;
}

type AiContext<P = unknown> = Context<P, RequestMeta>;

const MESSAGE = { type: "object", strict: true, props: { role: { type: "enum", values: ["system", "user", "assistant"] }, content: { type: "string", max: 32_000 } } } as const;
const MODEL = { type: "string", min: 1, max: 100, pattern: /^[A-Za-z0-9._:/-]+$/, optional: true } as const;
const OPTIONS = {
	type: "object",
	strict: true,
	optional: true,
	props: {
		temperature: { type: "number", min: 0, max: 2, optional: true },
		top_p: { type: "number", min: 0, max: 1, optional: true },
		top_k: { type: "number", integer: true, min: 1, max: 1000, optional: true },
		seed: { type: "number", integer: true, optional: true },
		num_predict: { type: "number", integer: true, min: 1, max: 32_768, optional: true },
		stop: { type: "array", items: { type: "string", max: 100 }, max: 8, optional: true },
	},
} as const;

/**
 * A host failing half its calls is skipped (its endpoint's circuit opens) and tried again after 2 s, not
 * Moleculer's 10: a GPU host back from a restart should get work as soon as it answers.
 */
const CIRCUIT_BREAKER = { enabled: true, threshold: 0.5, minRequestCount: 5, windowTime: 10, halfOpenTime: 2_000 };

const STRATEGY = (process.env.AI_STRATEGY === "ModelAware" ? "AiModelAware" : "AiRoundRobin") satisfies AiStrategyName;
const TIMEOUT_MS = intFromEnv(process.env.AI_TIMEOUT_MS, 120_000, "AI_TIMEOUT_MS");
/** A host's load changes with every request; other nodes hear of it at most this often (and on every heartbeat). */
const ANNOUNCE_EVERY_MS = 200;
/** How long a node uses the AI policy it has before asking again; a change by an admin reaches it at once. */
const POLICY_KEPT_MS = 30_000;
/** After the users service failed to answer: the last policy (or the defaults) serves this long before asking again. */
const POLICY_RETRY_MS = 5_000;

/** What every inference action declares. */
const INFERENCE = {
	// Inference has no effect but its answer: a retry on another host is harmless.
	idempotent: true,
	strategy: STRATEGY,
	circuitBreaker: CIRCUIT_BREAKER,
	timeout: TIMEOUT_MS,
	// The fair-share queue is the bulkhead of these actions: Moleculer's serves first come, first served.
	bulkhead: { enabled: false },
} as const;

/** This host lacks the model: another host may have it, so it is retried there; the last host's answer is the 404. */
class ModelNotFoundError extends Errors.MoleculerRetryableError {
	constructor(model: string) {
		super(`No AI host has the model '${model}'`, 404, "AI_MODEL_NOT_FOUND", { model });
	}
}

/** A host that cannot serve this request: retried on another host, counted by the circuit breaker (code ≥ 500). */
class HostUnavailableError extends Errors.MoleculerRetryableError {
	constructor(message: string, type = "AI_HOST_UNAVAILABLE") {
		super(message, 503, type);
	}
}

function userKey(ctx: AiContext): string {
	return ctx.meta.user ? `user:${ctx.meta.user.id}` : `service:${ctx.caller ?? "internal"}`;
}

function usageOf(response: Pick<ChatResponse, "prompt_eval_count" | "eval_count" | "total_duration">): AiUsage {
	return {
		promptTokens: response.prompt_eval_count ?? 0,
		outputTokens: response.eval_count ?? 0,
		durationMs: Math.round((response.total_duration ?? 0) / 1e6),
	};
}

/**
 * One `ai` node per GPU host, bound to its Ollama (DESIGN §3): chat (streamed or not), generate, embed, classify,
 * the models and hosts of the cluster, pull. Callers never pick a host: the broker balances over the `ai` nodes
 * with the strategy of AI_STRATEGY (broker/strategies/ai.strategies.ts) using the heartbeats each node broadcasts.
 */
const AiService: ServiceSchema<AiSettings, AiMethods, AiState> = {
	name: "ai",
	mixins: [AiHostsMixin],

	settings: {
		rest: "/",
		ollamaHost: process.env.OLLAMA_HOST ?? "http://127.0.0.1:11434",
		chatModel: process.env.AI_CHAT_MODEL ?? "llama3.2",
		embedModel: process.env.AI_EMBED_MODEL ?? "nomic-embed-text",
		parallel: intFromEnv(process.env.AI_PARALLEL, 2, "AI_PARALLEL"),
		timeoutMs: TIMEOUT_MS,
		heartbeatMs: intFromEnv(process.env.AI_HEARTBEAT_MS, 2_000, "AI_HEARTBEAT_MS"),
		strategy: STRATEGY,
		redisUrl: process.env.REDIS_URL,
		$secureSettings: ["redisUrl", "ollamaHost"],
	},

	actions: {
		chat: {
			rest: "POST /ai/chat",
			access: "ai:use",
			...INFERENCE,
			cache: {
				enabled: (ctx: Context<AiChatParams>) => !ctx.params.stream && ctx.params.options?.temperature === 0,
				keys: ["messages", "model", "options"],
				ttl: 3_600,
			},
			params: {
				$$strict: true,
				messages: { type: "array", items: MESSAGE, min: 1, max: 200 },
				model: MODEL,
				stream: { type: "boolean", optional: true },
				options: OPTIONS,
			},
			async handler(ctx: AiContext<AiChatParams>): Promise<AiChatAnswer | Readable> {
				const model = ctx.params.model ?? this.settings.chatModel;
				if (ctx.params.stream) return this.streamChat(ctx, ctx.params, model);
				const { response, usage } = await this.chatOnce(ctx, ctx.params.messages, model, ctx.params.options ?? {});
				return { message: { role: "assistant", content: response.message.content }, model: response.model, host: this.broker.nodeID, usage };
			},
		},

		generate: {
			rest: "POST /ai/generate",
			access: "ai:use",
			...INFERENCE,
			params: {
				$$strict: true,
				prompt: { type: "string", min: 1, max: 64_000 },
				system: { type: "string", max: 16_000, optional: true },
				model: MODEL,
				options: OPTIONS,
			},
			async handler(ctx: AiContext<AiGenerateParams>): Promise<AiGenerateAnswer> {
				const model = ctx.params.model ?? this.settings.chatModel;
				const messages: ChatMessage[] = [
					...(ctx.params.system ? [{ role: "system" as const, content: ctx.params.system }] : []),
					{ role: "user", content: ctx.params.prompt },
				];
				const { response, usage } = await this.chatOnce(ctx, messages, model, ctx.params.options ?? {});
				return { text: response.message.content, model: response.model, host: this.broker.nodeID, usage };
			},
		},

		embed: {
			visibility: "public",
			...INFERENCE,
			params: {
				$$strict: true,
				input: [
					{ type: "string", min: 1, max: 32_000 },
					{ type: "array", items: { type: "string", min: 1, max: 32_000 }, min: 1, max: 256 },
				],
				model: MODEL,
			},
			async handler(ctx: AiContext<AiEmbedParams>): Promise<AiEmbedAnswer> {
				const model = ctx.params.model ?? this.settings.embedModel;
				const texts = Array.isArray(ctx.params.input) ? ctx.params.input : [ctx.params.input];
				// Embeddings never change for a model and a text: each is computed once, ever.
				const known = await this.embeddings.get(model, texts);
				const missing = texts.filter((_, i) => !known[i]);
				if (missing.length > 0) {
					const admission = await this.admit(ctx, model);
					try {
						const started = Date.now();
						const response = await ollamaFor(this.settings.ollamaHost, admission.signal).embed({ model, input: missing });
						this.telemetry.inference("embed", model, Date.now() - started, { promptTokens: response.prompt_eval_count ?? 0, outputTokens: 0, durationMs: Date.now() - started });
						await this.embeddings.set(model, missing, response.embeddings);
						let next = 0;
						for (let i = 0; i < texts.length; i++) if (!known[i]) known[i] = response.embeddings[next++];
					} catch (err) {
						throw this.hostFailure(err, model);
					} finally {
						admission.done();
					}
				}
				return { model, embeddings: known as number[][] };
			},
		},

		classify: {
			visibility: "public",
			...INFERENCE,
			cache: { keys: ["text", "instruction", "schema", "model"], ttl: 3_600 },
			params: {
				$$strict: true,
				text: { type: "string", min: 1, max: 32_000 },
				instruction: { type: "string", min: 1, max: 4_000 },
				schema: { type: "object" },
				model: MODEL,
			},
			async handler(ctx: AiContext<AiClassifyParams>): Promise<AiClassifyAnswer> {
				const model = ctx.params.model ?? this.settings.chatModel;
				const messages: ChatMessage[] = [
					{ role: "system", content: `${ctx.params.instruction}\nAnswer with JSON that matches the given schema, nothing else.` },
					{ role: "user", content: ctx.params.text },
				];
				// The model is asked twice at most: a second time, told what was wrong, when its first answer does not fit.
				for (let attempt = 1; ; attempt++) {
					const { response } = await this.chatOnce(ctx, messages, model, { temperature: 0 }, ctx.params.schema);
					let parsed: unknown;
					let problems: string[];
					try {
						parsed = JSON.parse(response.message.content);
						problems = schemaProblems(parsed, ctx.params.schema);
					} catch {
						problems = ["the answer is not valid JSON"];
					}
					if (problems.length === 0) return { result: parsed as Record<string, unknown>, model: response.model, host: this.broker.nodeID };
					if (attempt === 2) {
						throw new Errors.MoleculerError("The model did not answer in the requested shape", 502, "AI_INVALID_OUTPUT", { problems });
					}
					messages.push({ role: "assistant", content: response.message.content }, { role: "user", content: `That does not fit the schema: ${problems.join("; ")}. Answer again with JSON only.` });
				}
			},
		},

		models: {
			rest: "GET /ai/models",
			access: "ai:use",
			idempotent: true,
			params: { $$strict: true },
			async handler(ctx: AiContext): Promise<{ items: { name: string; hosts: string[]; loadedOn: string[]; allowed: boolean }[] }> {
				const policy = await this.policyFor(ctx, ctx.meta.user);
				const byName = new Map<string, { hosts: Set<string>; loadedOn: Set<string> }>();
				for (const host of hostBoard(this.broker).all()) {
					for (const name of host.models) {
						const entry = byName.get(withTag(name)) ?? { hosts: new Set(), loadedOn: new Set() };
						entry.hosts.add(host.nodeID);
						byName.set(withTag(name), entry);
					}
					for (const loaded of host.loaded) byName.get(withTag(loaded.name))?.loadedOn.add(host.nodeID);
				}
				const allowed = (name: string) => policy.models === null || [...policy.models, this.settings.chatModel, this.settings.embedModel].some((model) => withTag(model) === name);
				const items = [...byName].map(([name, entry]) => ({ name, hosts: [...entry.hosts].sort(), loadedOn: [...entry.loadedOn].sort(), allowed: allowed(name) }));
				return { items: items.sort((a, b) => a.name.localeCompare(b.name)) };
			},
		},

		hosts: {
			rest: "GET /ai/hosts",
			access: "ai:admin",
			idempotent: true,
			params: { $$strict: true },
			handler(): { items: (AiHostStatus & { usable: boolean })[] } {
				const board = hostBoard(this.broker);
				board.update(this.status);
				const items = board.all().map((host) => ({ ...host, usable: board.usable(host.nodeID) }));
				return { items: items.sort((a, b) => a.nodeID.localeCompare(b.nodeID)) };
			},
		},

		/** This node's host, as its heartbeat reports it. */
		status: {
			visibility: "public",
			idempotent: true,
			handler(): AiHostStatus {
				return this.status;
			},
		},

		pull: {
			rest: "POST /ai/pull",
			access: "ai:admin",
			idempotent: true,
			timeout: 3_600_000,
			params: { $$strict: true, model: { ...MODEL, optional: false }, nodeID: { type: "string", max: 128, optional: true } },
			async handler(ctx: AiContext<{ model: string; nodeID?: string }>): Promise<Readable> {
				// Pulls on one host, or on every host one after another; progress lines say which host.
				const endpoints = this.broker.registry.getActionEndpoints("ai.pullHere")?.endpoints ?? [];
				const nodes = endpoints.map((endpoint) => endpoint.id).filter((nodeID) => !ctx.params.nodeID || nodeID === ctx.params.nodeID);
				if (nodes.length === 0) throw new NotFoundError("No AI host by that node id", "AI_HOST_NOT_FOUND");
				const out = new PassThrough();
				ctx.meta.$responseType = "application/x-ndjson";
				void (async () => {
					for (const nodeID of nodes) {
						try {
							const progress = await ctx.call<Readable, { model: string }>("ai.pullHere", { model: ctx.params.model }, { nodeID, timeout: 3_600_000 });
							for await (const chunk of progress) out.write(chunk);
						} catch (err) {
							out.write(`${JSON.stringify({ host: nodeID, status: "error", error: (err as Error).message })}\n`);
						}
					}
					out.end();
				})();
				return out;
			},
		},

		/** Pulls a model on this node's host; NDJSON progress lines. */
		pullHere: {
			visibility: "public",
			idempotent: true,
			timeout: 3_600_000,
			params: { model: MODEL },
			async handler(ctx: AiContext<{ model: string }>): Promise<Readable> {
				const controller = new AbortController();
				const progress = await ollamaFor(this.settings.ollamaHost, AbortSignal.any([controller.signal, this.stopping.signal])).pull({ model: ctx.params.model, stream: true });
				const host = this.broker.nodeID;
				return Readable.from(
					(async function* () {
						try {
							for await (const step of progress) yield `${JSON.stringify({ host, status: step.status, completed: step.completed, total: step.total })}\n`;
						} catch (err) {
							yield `${JSON.stringify({ host, status: "error", error: (err as Error).message })}\n`;
						}
					})(),
				);
			},
		},
	},

	events: {
		// The gateway's client went away before its answer: stop its inference on this host.
		"gateway.request.aborted"(ctx: Context<{ requestID: string }>) {
			for (const controller of this.running.get(ctx.params.requestID) ?? []) controller.abort(new Error("The client went away"));
		},
		// The users service changed something it caches, such as an AI policy: the next request asks again.
		"cache.clean.users"() {
			this.policy = undefined;
		},
	},

	methods: {
		/**
		 * Lets a request in: the caller's role may use the model, has budget left this minute, and gets a slot on
		 * this host in its fair turn. Answers how to give the slot back and the signal that aborts the request.
		 */
		async admit(ctx: AiContext, model: string): Promise<Admission> {
			if (!this.status.healthy && this.status.checkedAt > 0) {
				throw new HostUnavailableError(`AI host ${this.broker.nodeID} is not answering: ${this.status.problem ?? "unknown"}`);
			}
			const user = ctx.meta.user;
			const policy = await this.policyFor(ctx, user);
			this.requireModelAllowed(user, model, policy);
			if (user) {
				const budget = await this.limiter.consume(`ai:user:${user.id}`, policy.requestsPerMinute);
				if (!budget.allowed) throw new TooManyRequestsError(budget.resetSeconds, "Too many AI requests this minute", "AI_RATE_LIMITED");
			}
			const controller = new AbortController();
			const signal = AbortSignal.any([controller.signal, this.stopping.signal, AbortSignal.timeout(this.settings.timeoutMs)]);
			const requestID = ctx.requestID ?? ctx.id;
			const controllers = this.running.get(requestID) ?? new Set();
			controllers.add(controller);
			this.running.set(requestID, controllers);
			const forget = () => {
				controllers.delete(controller);
				if (controllers.size === 0) this.running.delete(requestID);
			};
			const queuedAt = Date.now();
			let release: () => void;
			try {
				release = await this.queue.acquire(userKey(ctx), user ? policy.maxQueued : Number.MAX_SAFE_INTEGER, signal);
			} catch (err) {
				forget();
				if (err instanceof QueueFullError) {
					throw new TooManyRequestsError(2, `Already ${err.queued} AI requests waiting: wait for them first`, "AI_QUEUE_FULL");
				}
				throw new HostUnavailableError("The request was aborted while waiting for a slot", "AI_ABORTED");
			}
			this.announce();
			let finished = false;
			return {
				release,
				signal,
				queuedMs: Date.now() - queuedAt,
				done: () => {
					if (finished) return;
					finished = true;
					release();
					forget();
					this.announce();
				},
			};
		},

		/** The policy of every role, kept on this node: asked of the users service at most every 30 s. */
		async currentPolicy(ctx: AiContext): Promise<AiPolicy> {
			const kept = this.policy;
			if (kept && Date.now() < kept.until) return kept.value;
			if (kept?.lookup) return kept.lookup;
			const lookup = ctx
				.call<AiPolicy>("users.aiPolicyOf")
				.then((value) => {
					this.policy = { value, until: Date.now() + POLICY_KEPT_MS };
					return value;
				})
				.catch((err: unknown) => {
					// Without the users service the last policy (or the defaults) applies; the node keeps serving.
					failureLog(this.broker).report("ai policy", err);
					const value = kept?.value ?? DEFAULT_AI_POLICY;
					this.policy = { value, until: Date.now() + POLICY_RETRY_MS };
					return value;
				});
			this.policy = { value: kept?.value ?? DEFAULT_AI_POLICY, until: 0, lookup };
			return lookup;
		},

		async policyFor(ctx: AiContext, user: SessionUser | null | undefined): Promise<AiRolePolicy> {
			const policy = await this.currentPolicy(ctx);
			const roles = user?.roles ?? ["admin"];
			// A user with several roles gets the most generous of each limit.
			const granted = roles.map((role) => policy[role]).filter(Boolean);
			const models = granted.some((entry) => entry.models === null) ? null : [...new Set(granted.flatMap((entry) => entry.models ?? []))];
			return {
				models,
				requestsPerMinute: Math.max(0, ...granted.map((entry) => entry.requestsPerMinute)),
				maxQueued: Math.max(0, ...granted.map((entry) => entry.maxQueued)),
			};
		},

		requireModelAllowed(user: SessionUser | null | undefined, model: string, policy: AiRolePolicy) {
			if (!user || policy.models === null) return;
			// The platform's own defaults serve the assistant and search: every role may use them.
			const allowed = [...policy.models, this.settings.chatModel, this.settings.embedModel].map(withTag);
			if (!allowed.includes(withTag(model))) {
				throw new ForbiddenError(`Your role may not use the model '${model}'`, "AI_MODEL_NOT_ALLOWED", { model });
			}
		},

		/** Turns a failure of the host into what the caller should see, and what Moleculer should do with it. */
		hostFailure(err: unknown, model: string): Error {
			if (err instanceof Errors.MoleculerError) return err;
			const kind: OllamaFailure = classifyOllamaError(err);
			this.telemetry.failure(kind, model);
			switch (kind) {
				case "unreachable":
				case "busy":
				case "failed":
					// Another host may serve it: retried there while no token was sent.
					return new HostUnavailableError(`AI host ${this.broker.nodeID} failed: ${(err as Error).message}`);
				case "model-missing":
					return new ModelNotFoundError(model);
				case "aborted":
					return new Errors.MoleculerError("The AI request was aborted", 499, "AI_ABORTED");
				case "bad-request":
					return new Errors.MoleculerClientError(`The AI host refused the request: ${(err as Error).message}`, 422, "AI_BAD_REQUEST");
			}
		},

		async chatOnce(ctx: AiContext, messages: ChatMessage[], model: string, options: object, format?: object) {
			const admission = await this.admit(ctx, model);
			const started = Date.now();
			try {
				const response = await ollamaFor(this.settings.ollamaHost, admission.signal).chat({ model, messages, options, format, stream: false });
				const usage = usageOf(response);
				this.telemetry.inference(ctx.action?.name?.split(".").pop() ?? "chat", model, Date.now() - started, usage);
				this.telemetry.log(ctx, { model, latencyMs: Date.now() - started, queuedMs: admission.queuedMs, usage, outcome: "ok" });
				return { response, usage };
			} catch (err) {
				const failure = this.hostFailure(err, model);
				this.telemetry.log(ctx, { model, latencyMs: Date.now() - started, queuedMs: admission.queuedMs, outcome: (failure as Errors.MoleculerError).type ?? "error" });
				throw failure;
			} finally {
				admission.done();
			}
		},

		/**
		 * Streams an answer as NDJSON lines. The first piece is awaited before the stream is handed back: until a
		 * token has gone out, a failing host is still an error of the call, which Moleculer retries on another host.
		 */
		async streamChat(ctx: AiContext, params: AiChatParams, model: string): Promise<Readable> {
			const admission = await this.admit(ctx, model);
			const started = Date.now();
			const host = this.broker.nodeID;
			let pieces: AsyncIterator<ChatResponse>;
			let first: IteratorResult<ChatResponse>;
			try {
				const stream = await ollamaFor(this.settings.ollamaHost, admission.signal).chat({ model, messages: params.messages, options: params.options ?? {}, stream: true });
				pieces = stream[Symbol.asyncIterator]();
				first = await pieces.next();
			} catch (err) {
				admission.done();
				throw this.hostFailure(err, model);
			}
			ctx.meta.$responseType = "application/x-ndjson";
			const telemetry = this.telemetry;
			const line = (chunk: AiChatChunk | { error: string; type: string; done: true; host: string }) => `${JSON.stringify(chunk)}\n`;
			return Readable.from(
				(async function* () {
					let result = first;
					try {
						while (!result.done) {
							const piece = result.value;
							if (piece.done) {
								const usage = usageOf(piece);
								telemetry.inference("chat", model, Date.now() - started, usage);
								telemetry.log(ctx, { model, latencyMs: Date.now() - started, queuedMs: admission.queuedMs, usage, outcome: "ok" });
								yield line({ delta: piece.message?.content ?? "", done: true, model: piece.model, host, usage });
								return;
							}
							yield line({ delta: piece.message.content, done: false, model: piece.model, host });
							result = await pieces.next();
						}
						yield line({ error: "The answer ended early", type: "AI_STREAM_FAILED", done: true, host });
					} catch (err) {
						// Tokens already went out: no retry now, the client is told the answer broke off.
						telemetry.log(ctx, { model, latencyMs: Date.now() - started, queuedMs: admission.queuedMs, outcome: "stream-failed" });
						yield line({ error: `The answer broke off: ${(err as Error).message}`, type: "AI_STREAM_FAILED", done: true, host });
					} finally {
						admission.done();
					}
				})(),
			);
		},

		/** Asks the host how it is (loaded models, GPU memory) and tells every node. */
		async beat() {
			this.beats += 1;
			const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(Math.min(2_000, this.settings.heartbeatMs))]);
			const ollama = ollamaFor(this.settings.ollamaHost, signal);
			try {
				const [ps, tags, gpus] = await Promise.all([
					ollama.ps(),
					// The installed models and the GPUs change rarely: asked every fifth beat.
					this.beats % 5 === 1 || this.status.models.length === 0 ? ollama.list() : Promise.resolve(null),
					this.beats % 5 === 1 ? readGpus() : Promise.resolve(this.status.gpus),
				]);
				this.status = {
					...this.status,
					healthy: true,
					problem: undefined,
					checkedAt: Date.now(),
					models: tags ? tags.models.map((entry: ModelResponse) => entry.name) : this.status.models,
					loaded: ps.models.map((entry: ModelResponse) => ({
						name: entry.name,
						sizeVram: entry.size_vram,
						expiresAt: entry.expires_at ? new Date(entry.expires_at).toISOString() : null,
					})),
					gpus: gpus as GpuReading[] | undefined,
				};
			} catch (err) {
				this.status = { ...this.status, healthy: false, problem: (err as Error).message, checkedAt: Date.now() };
			}
			this.announce(true);
		},

		/**
		 * Tells this node's board and gauges at once, and the other nodes at most every 200 ms (two broadcasts per
		 * request cost more than the rest of a call). Callers count their own requests in flight meanwhile.
		 */
		announce(now = false) {
			this.status = { ...this.status, inFlight: this.queue.inFlight, queued: this.queue.queued, parallel: this.settings.parallel };
			this.telemetry.load(this.queue.inFlight, this.queue.queued);
			hostBoard(this.broker).update(this.status);
			const wait = this.announcedAt + ANNOUNCE_EVERY_MS - Date.now();
			if (!now && wait > 0) {
				this.pendingAnnouncement ??= setTimeout(() => {
					this.pendingAnnouncement = undefined;
					this.announce(true);
				}, wait);
				return;
			}
			clearTimeout(this.pendingAnnouncement);
			this.pendingAnnouncement = undefined;
			this.announcedAt = Date.now();
			void this.broker.broadcast("ai.host.status", this.status);
		},
	},

	created() {
		this.queue = new FairQueue(this.settings.parallel);
		this.running = new Map();
		this.stopping = new AbortController();
		this.beats = 0;
		this.announcedAt = 0;
		this.status = {
			nodeID: this.broker.nodeID,
			healthy: false,
			checkedAt: 0,
			defaultModel: this.settings.chatModel,
			embedModel: this.settings.embedModel,
			models: [],
			loaded: [],
			parallel: this.settings.parallel,
			inFlight: 0,
			queued: 0,
		};
		const failures = failureLog(this.broker);
		this.redis = this.settings.redisUrl ? new RedisConnection(this.settings.redisUrl, failures.reporter("redis")) : undefined;
		const prefix = `colony:${this.broker.namespace}:`;
		this.limiter = new RateLimiter(Number.MAX_SAFE_INTEGER, 60_000, this.redis && new RedisCounters(this.redis, prefix), failures.reporter("shared ai rate limit"), "now");
		this.embeddings = new EmbeddingCache(this.redis, prefix);
		this.telemetry = new AiTelemetry(this.broker);
	},

	async started() {
		await this.beat();
		this.heartbeat = setInterval(() => void this.beat(), this.settings.heartbeatMs);
		this.heartbeat.unref();
		// Ready to take traffic once it knows how its host is, answering or not: a node whose Ollama is down is
		// up (it says so), the balancer sends it nothing.
		registerReadinessProbe(this.broker, "ai-host", () => this.status.checkedAt > 0, { required: false });
		if (!this.status.healthy) this.logger.warn(`The Ollama at ${this.settings.ollamaHost} is not answering: ${this.status.problem}`);
	},

	async stopped() {
		clearInterval(this.heartbeat);
		clearTimeout(this.pendingAnnouncement);
		this.stopping.abort(new Error("The AI node is stopping"));
		this.queue.cancelAll(new HostUnavailableError("The AI node is stopping"));
		unregisterReadinessProbe(this.broker, "ai-host");
		this.limiter.close();
		this.redis?.close();
	},
};

export default AiService;

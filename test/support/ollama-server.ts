import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import {
	answerText,
	countTokens,
	defaultModels,
	defaultRegistry,
	embedText,
	fnv1a,
	lastUserText,
	normalize,
	normalizeModelName,
	PLAIN_JSON_SCHEMA,
	sampleOf,
	sha256Hex,
	tokenize,
	type ChatMessage,
	type Json,
	type JsonSchema,
	type ModelDetails,
	type TestModel,
} from "./ollama-fixtures";

export { embeddingModel, testModel, type Capability, type Json, type JsonSchema, type ModelDetails, type TestModel } from "./ollama-fixtures";

/** Ollama's scheduler error when its queue is full (`ErrMaxQueue`), answered with 503. */
export const BUSY_MESSAGE = "server busy, please try again.  maximum pending requests exceeded";
const RUNNER_CRASHED = "llama runner process has terminated: exit status 2";
const RUNNER_FAILED_MID_STREAM = "an error was encountered while running the model: unexpected EOF";
const DEFAULT_KEEP_ALIVE_MS = 5 * 60_000;
const DEFAULTS = { embeddingDimension: 768, latencyMs: 0, tokenIntervalMs: 0, loadLatencyMs: 0, parallel: 4, queueLimit: 0, version: "0.12.6" };
const FOREVER_MS = 292 * 365 * 24 * 3_600_000;

export type InferencePath = "/api/chat" | "/api/generate" | "/api/embed";
const INFERENCE_PATHS: readonly string[] = ["/api/chat", "/api/generate", "/api/embed"] satisfies InferencePath[];

/**
 * - `http-500`: the runner crashed before answering (500 with an Ollama error body).
 * - `http-503`: the queue is full (503 with Ollama's busy message).
 * - `connection-reset`: the TCP connection is reset before any answer.
 * - `stream-error`: some chunks, then an NDJSON `{"error": ...}` line and the end of the stream (status stays 200);
 *   a request that does not stream gets a 500 instead, as from Ollama.
 * - `hang`: holds its slot and never answers, until the client goes away or the server stops.
 */
export type FailureKind = "http-500" | "http-503" | "connection-reset" | "stream-error" | "hang";

export interface FailureOptions {
	/** Only requests to this path fail (default: any of /api/chat, /api/generate, /api/embed). */
	path?: string;
	/** Only requests for this model fail. */
	model?: string;
	/** The error text (defaults: Ollama's own messages for such failures). */
	message?: string;
	/** `stream-error`: how many chunks go out before the error line (default 2). */
	afterChunks?: number;
}

interface PendingFailure {
	readonly kind: FailureKind;
	readonly path?: string;
	readonly model?: string;
	readonly message: string;
	readonly afterChunks: number;
	remaining: number;
}

/** A model in memory, as /api/ps reports it. */
export interface LoadedModel {
	name: string;
	size: number;
	size_vram: number;
	digest: string;
	details: ModelDetails;
	expires_at: Date;
	context_length: number;
}

export interface RecordedRequest {
	method: string;
	path: string;
	/** The parsed JSON body (undefined when there was none or it was not JSON). */
	body: unknown;
	/** `model` (or `name`) of the body, normalized to `name:tag`. */
	model: string | undefined;
	/** The status line sent; undefined when none was (reset, hang, client gone first). */
	status: number | undefined;
	/** The last byte of the answer was written. */
	completed: boolean;
	/** The client closed the connection before the answer was complete. */
	abortedByClient: boolean;
}

export interface RequestFilter {
	path?: string;
	model?: string;
}

export interface OllamaTestServerOptions {
	/** 0 (default) picks a free port; the port is kept for `restart()` and `up()`. */
	port?: number;
	/** Dimension of the default embedding model, nomic-embed-text:latest (default 768). */
	embeddingDimension?: number;
	/** Installed models (default: llama3.2:latest and nomic-embed-text:latest). */
	models?: TestModel[];
	/** Models /api/pull can fetch (default: the installed defaults, qwen2.5:0.5b and all-minilm:latest). */
	registry?: TestModel[];
	/** Models in memory at start. */
	loaded?: string[];
	/** Start values of the knobs of the same names (defaults: 0 ms, parallel 4, queueLimit 0). */
	latencyMs?: number;
	tokenIntervalMs?: number;
	loadLatencyMs?: number;
	parallel?: number;
	queueLimit?: number;
	version?: string;
}

type KeepAlive = { readonly ms: number };

type Metrics = {
	total_duration: number;
	load_duration: number;
	prompt_eval_count: number;
	prompt_eval_duration: number;
	eval_count: number;
	eval_duration: number;
};

/** What a chat or generate request produces, in the shape of its endpoint. */
interface Generation {
	/** The model name as the request spelled it: Ollama echoes it back. */
	readonly requested: string;
	readonly stream: boolean;
	readonly promptTokens: number;
	readonly evalCount: number;
	readonly doneReason: "stop" | "length";
	/** The fields of each streamed chunk besides model, created_at and done. */
	readonly chunks: ReadonlyArray<{ [key: string]: Json }>;
	/** The fields of the final streamed chunk. */
	readonly last: { [key: string]: Json };
	/** The fields of the single answer when not streaming. */
	readonly whole: { [key: string]: Json };
}

type Reply = { text: string; doneReason: "stop" | "length" };

function nanoseconds(ms: number): number {
	// Go omits zero durations (omitempty); a real measurement is never zero.
	return Math.max(1, Math.round(ms * 1e6));
}

function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

function goTypeOf(value: unknown): string {
	if (Array.isArray(value)) return "array";
	if (typeof value === "boolean") return "bool";
	return typeof value;
}

function goJsonError(raw: string, error: unknown): string {
	const message = error instanceof Error ? error.message : String(error);
	if (message.includes("end of JSON input")) return "unexpected EOF";
	const first = raw.trim()[0];
	if (!/[[{"\-0-9tfn]/.test(first)) return `invalid character '${first}' looking for beginning of value`;
	return `invalid character in JSON: ${message}`;
}

function text(value: unknown): string | undefined {
	return typeof value === "string" ? value : undefined;
}

function durationMs(value: string): number | undefined {
	const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
	const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
	if (parts.length === 0 || parts.map((part) => part[0]).join("") !== value.replace(/^-/, "")) return undefined;
	const total = parts.reduce((sum, [, amount, unit]) => sum + Number(amount) * units[unit], 0);
	return value.startsWith("-") ? -total : total;
}

/** `keep_alive` is seconds as a number or a Go duration string; negative means forever, 0 unloads after the request. */
function keepAliveOf(value: unknown): KeepAlive {
	const ms = typeof value === "number" ? value * 1_000 : value === "0" ? 0 : typeof value === "string" ? durationMs(value) : undefined;
	if (ms === undefined) return { ms: DEFAULT_KEEP_ALIVE_MS };
	return { ms: ms < 0 ? FOREVER_MS : ms };
}

function messagesOf(value: unknown): ChatMessage[] {
	if (!Array.isArray(value)) return [];
	return value.filter(isRecord).map((message) => ({
		role: (text(message.role) ?? "").toLowerCase(),
		content: text(message.content) ?? "",
	}));
}

type StructuredFormat = { schema: JsonSchema } | { invalid: string } | undefined;

function formatOf(value: unknown): StructuredFormat {
	if (value === undefined || value === null || value === "") return undefined;
	if (value === "json") return { schema: PLAIN_JSON_SCHEMA };
	if (isRecord(value)) return { schema: value as JsonSchema };
	// Go's %q of the raw JSON bytes
	return { invalid: `invalid format: ${JSON.stringify(JSON.stringify(value))}; expected "json" or a valid JSON Schema object` };
}

/**
 * One request and its answer in Ollama's framings (JSON, NDJSON stream); tells a client that went away apart from a
 * connection the server cut, and aborts `signal` either way so that every wait of the request ends.
 */
class Exchange {
	readonly startedAt = performance.now();
	private readonly controller = new AbortController();
	private cutByServer = false;

	constructor(
		private readonly req: IncomingMessage,
		private readonly res: ServerResponse,
		readonly record: RecordedRequest,
		onClientAbort: () => void,
	) {
		res.once("close", () => {
			record.completed = res.writableFinished;
			if (!res.writableFinished && !this.cutByServer) {
				record.abortedByClient = true;
				onClientAbort();
			}
			this.controller.abort(new Error("the connection closed"));
		});
	}

	get signal(): AbortSignal {
		return this.controller.signal;
	}

	json(status: number, body: Json): void {
		if (this.res.headersSent || this.res.destroyed) return;
		const payload = JSON.stringify(body);
		this.record.status = status;
		this.res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(payload) });
		this.res.end(payload);
	}

	text(status: number, body: string): void {
		if (this.res.headersSent || this.res.destroyed) return;
		this.record.status = status;
		this.res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(body) });
		this.res.end(body);
	}

	/** One NDJSON line; the first one sends the 200 status line, as Ollama's streams do. */
	line(body: Json): void {
		if (this.res.destroyed) return;
		if (!this.res.headersSent) {
			this.record.status = 200;
			this.res.writeHead(200, { "Content-Type": "application/x-ndjson" });
		}
		this.res.write(`${JSON.stringify(body)}\n`);
	}

	end(): void {
		if (!this.res.destroyed) this.res.end();
	}

	/** Ollama's error in a stream: a JSON 500 when nothing was sent yet, else an `{"error"}` line that ends it. */
	streamError(message: string): void {
		if (!this.res.headersSent) return this.json(500, { error: message });
		this.line({ error: message });
		this.end();
	}

	cut(): void {
		this.cutByServer = true;
		this.controller.abort(new Error("the server cut the connection"));
		this.res.socket?.destroy();
	}

	reset(): void {
		this.cutByServer = true;
		this.controller.abort(new Error("the server reset the connection"));
		this.req.socket.resetAndDestroy();
	}
}

/** Ollama's scheduler: `parallel` requests run, up to `queueLimit` wait for a slot, the rest are refused. */
class Slots {
	inUse = 0;
	maxInUse = 0;
	private readonly waiting: Array<() => void> = [];

	constructor(private readonly limits: () => { parallel: number; queueLimit: number }) {}

	get queued(): number {
		return this.waiting.length;
	}

	/** A release function, or undefined when every slot and every place in the queue is taken. */
	async acquire(signal: AbortSignal): Promise<(() => void) | undefined> {
		signal.throwIfAborted();
		const { parallel, queueLimit } = this.limits();
		if (this.waiting.length === 0 && this.inUse < parallel) {
			this.occupy();
			return this.releaser();
		}
		if (this.waiting.length >= queueLimit) return undefined;
		await new Promise<void>((resolve, reject) => {
			const grant = (): void => {
				signal.removeEventListener("abort", giveUp);
				resolve();
			};
			const giveUp = (): void => {
				this.waiting.splice(this.waiting.indexOf(grant), 1);
				reject(signal.reason);
			};
			this.waiting.push(grant);
			signal.addEventListener("abort", giveUp, { once: true });
		});
		return this.releaser();
	}

	resetMax(): void {
		this.maxInUse = this.inUse;
	}

	private occupy(): void {
		this.inUse++;
		this.maxInUse = Math.max(this.maxInUse, this.inUse);
	}

	private releaser(): () => void {
		let released = false;
		return () => {
			if (released) return;
			released = true;
			this.inUse--;
			this.drain();
		};
	}

	// The slot is taken on the waiter's behalf before it resumes, so no newcomer can slip in between.
	private drain(): void {
		while (this.inUse < this.limits().parallel) {
			const grant = this.waiting.shift();
			if (!grant) return;
			this.occupy();
			grant();
		}
	}
}

/**
 * An HTTP server that speaks Ollama's wire protocol (checked against Ollama's `server/routes.go` and the `ollama`
 * npm client 0.6) for /api/chat, /api/generate, /api/embed, /api/tags, /api/ps, /api/show, /api/pull, /api/delete
 * and /api/version. Answers are deterministic functions of the request; latency, capacity and failures are knobs a
 * test turns at runtime, and every request is recorded.
 */
export class OllamaTestServer {
	/** Time to the first token (prompt evaluation), and to the answer of /api/embed. */
	latencyMs = DEFAULTS.latencyMs;
	/** Time between two streamed chunks (and between pull progress lines); a non-streamed answer takes as long. */
	tokenIntervalMs = DEFAULTS.tokenIntervalMs;
	/** Time to load a model that is not in memory. */
	loadLatencyMs = DEFAULTS.loadLatencyMs;
	/** Inference requests (chat, generate, embed) served at once. */
	parallel = DEFAULTS.parallel;
	/** Inference requests that may wait for a slot; beyond that: 503. Real Ollama queues 512 (OLLAMA_MAX_QUEUE). */
	queueLimit = DEFAULTS.queueLimit;
	/** What /api/version answers. */
	version = DEFAULTS.version;
	/** Installed models by `name:tag`. */
	readonly models = new Map<string, TestModel>();
	/** Models /api/pull can fetch, by `name:tag`. */
	readonly registry = new Map<string, TestModel>();
	/** Models in memory by `name:tag`: what /api/ps reports. */
	readonly loaded = new Map<string, LoadedModel>();
	/** Every request in arrival order. */
	readonly log: RecordedRequest[] = [];

	private readonly http: Server;
	private readonly sockets = new Set<Socket>();
	private readonly exchanges = new Set<Exchange>();
	private readonly slots = new Slots(() => ({ parallel: this.parallel, queueLimit: this.queueLimit }));
	private readonly loading = new Map<string, Promise<void>>();
	private failures: PendingFailure[] = [];
	private invalidJsonRemaining = 0;
	private clientAborts = 0;
	private lifetime = new AbortController();
	private resetting = false;
	private listening = false;
	private boundPort: number;

	private constructor(private readonly options: OllamaTestServerOptions) {
		this.boundPort = options.port ?? 0;
		this.http = createServer((req, res) => void this.handle(req, res));
		this.http.on("connection", (socket: Socket) => this.accept(socket));
		this.reset();
	}

	static async start(options: OllamaTestServerOptions = {}): Promise<OllamaTestServer> {
		const server = new OllamaTestServer(options);
		await server.listen();
		return server;
	}

	get port(): number {
		return this.boundPort;
	}

	get url(): string {
		return `http://127.0.0.1:${this.boundPort}`;
	}

	/** Inference requests being served now (holding a slot). */
	get inFlight(): number {
		return this.slots.inUse;
	}

	/** Inference requests waiting for a slot. */
	get queued(): number {
		return this.slots.queued;
	}

	/** The most inference requests served at once since the start or the last `resetStats()`. */
	get maxConcurrent(): number {
		return this.slots.maxInUse;
	}

	/** Requests whose client closed the connection before the answer was complete. */
	get abortedCount(): number {
		return this.clientAborts;
	}

	requests(filter: RequestFilter = {}): RecordedRequest[] {
		const model = filter.model === undefined ? undefined : normalizeModelName(filter.model);
		return this.log.filter((request) => (filter.path === undefined || request.path === filter.path) && (model === undefined || request.model === model));
	}

	requestCount(filter: RequestFilter = {}): number {
		return this.requests(filter).length;
	}

	/** The body of the last request to `path` (as sent: not validated). */
	lastBody(path: string): unknown {
		return this.requests({ path }).at(-1)?.body;
	}

	/** The next `count` matching requests fail as `kind` says; several calls queue up in order. */
	failNext(count: number, kind: FailureKind, options: FailureOptions = {}): void {
		const message = options.message ?? (kind === "http-503" ? BUSY_MESSAGE : kind === "stream-error" ? RUNNER_FAILED_MID_STREAM : RUNNER_CRASHED);
		this.failures.push({
			kind,
			remaining: count,
			message,
			path: options.path,
			model: options.model === undefined ? undefined : normalizeModelName(options.model),
			afterChunks: options.afterChunks ?? 2,
		});
	}

	/** The next `count` answers with a `format` are not valid JSON (cut off half way, as a model running out of tokens). */
	invalidJsonNext(count: number): void {
		this.invalidJsonRemaining += count;
	}

	resetStats(): void {
		this.log.length = 0;
		this.clientAborts = 0;
		this.slots.resetMax();
	}

	/** Back to the state of `start()`: knobs, models, registry, loaded models, pending failures and statistics. */
	reset(): void {
		const options = { ...DEFAULTS, ...this.options };
		const dimension = options.embeddingDimension;
		this.latencyMs = options.latencyMs;
		this.tokenIntervalMs = options.tokenIntervalMs;
		this.loadLatencyMs = options.loadLatencyMs;
		this.parallel = options.parallel;
		this.queueLimit = options.queueLimit;
		this.version = options.version;
		this.fill(this.models, options.models ?? defaultModels(dimension));
		this.fill(this.registry, options.registry ?? defaultRegistry(dimension));
		this.loaded.clear();
		for (const name of options.loaded ?? []) {
			const model = this.find(this.models, name);
			if (model) this.markLoaded(model, { ms: DEFAULT_KEEP_ALIVE_MS });
		}
		this.failures = [];
		this.invalidJsonRemaining = 0;
		this.resetStats();
	}

	/** Closes the listener and every connection; requests in flight are cut. */
	async stop(): Promise<void> {
		await this.shutdown();
	}

	/** As a crashed host: every connection is dropped at once, nothing listens, and the loaded models are gone. */
	async kill(): Promise<void> {
		await this.shutdown();
		this.loaded.clear();
	}

	/** Stops as `stop()` does (if still running) and listens again on the same port; the loaded models are kept. */
	async restart(): Promise<void> {
		await this.shutdown();
		await this.up();
	}

	/**
	 * Unreachable without losing state: "refuse" closes the port (ECONNREFUSED), "reset" keeps it open and resets
	 * every connection (ECONNRESET). Connections in flight are cut either way.
	 */
	async down(mode: "refuse" | "reset" = "refuse"): Promise<void> {
		if (mode === "refuse") return this.shutdown();
		this.resetting = true;
		for (const exchange of this.exchanges) exchange.reset();
		for (const socket of this.sockets) if (!socket.destroyed) socket.resetAndDestroy();
		await this.letClientsSeeTheClose();
	}

	/** Serves again on the same port after `down()`, `stop()` or `kill()`. */
	async up(): Promise<void> {
		this.resetting = false;
		if (!this.listening) await this.listen();
	}

	private fill(target: Map<string, TestModel>, models: readonly TestModel[]): void {
		target.clear();
		for (const model of models) target.set(model.name, structuredClone(model));
	}

	private listen(): Promise<void> {
		return new Promise((resolve, reject) => {
			this.http.once("error", reject);
			this.http.listen(this.boundPort, "127.0.0.1", () => {
				this.http.off("error", reject);
				this.boundPort = (this.http.address() as { port: number }).port;
				this.listening = true;
				resolve();
			});
		});
	}

	private async shutdown(): Promise<void> {
		const closed = this.listening ? new Promise<void>((resolve) => this.http.close(() => resolve())) : Promise.resolve();
		this.listening = false;
		this.lifetime.abort(new Error("the server stopped"));
		this.lifetime = new AbortController();
		for (const exchange of this.exchanges) exchange.cut();
		for (const socket of this.sockets) socket.destroy();
		await closed;
		await this.letClientsSeeTheClose();
	}

	// A client in this process must see its pooled keep-alive sockets close before its next request, or undici
	// reuses one and fails with "other side closed" instead of the refused or reset connection the test expects.
	// A poll phase of the event loop reads the FIN; the second immediate runs after one.
	private async letClientsSeeTheClose(): Promise<void> {
		await new Promise((resolve) => setImmediate(resolve));
		await new Promise((resolve) => setImmediate(resolve));
	}

	private accept(socket: Socket): void {
		if (this.resetting) {
			socket.resetAndDestroy();
			return;
		}
		this.sockets.add(socket);
		socket.once("close", () => this.sockets.delete(socket));
	}

	private find<T>(map: Map<string, T>, name: string): T | undefined {
		const wanted = normalizeModelName(name);
		const exact = map.get(wanted);
		if (exact !== undefined) return exact;
		for (const [key, value] of map) if (key.toLowerCase() === wanted.toLowerCase()) return value;
		return undefined;
	}

	private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
		const path = new URL(req.url ?? "/", "http://localhost").pathname;
		const record: RecordedRequest = { method: req.method ?? "GET", path, body: undefined, model: undefined, status: undefined, completed: false, abortedByClient: false };
		this.log.push(record);
		const exchange = new Exchange(req, res, record, () => this.clientAborts++);
		this.exchanges.add(exchange);
		try {
			const raw = await readBody(req);
			await this.route(exchange, `${record.method} ${path}`, raw);
		} catch (error) {
			// A wait that ended because the connection closed has nobody left to answer.
			if (!exchange.signal.aborted) exchange.json(500, { error: error instanceof Error ? error.message : String(error) });
		} finally {
			this.exchanges.delete(exchange);
		}
	}

	private async route(exchange: Exchange, route: string, raw: string): Promise<void> {
		const path = exchange.record.path;
		const body = route.startsWith("POST ") || route.startsWith("DELETE ") ? this.parse(exchange, raw) : {};
		if (body === undefined) return;
		if (!INFERENCE_PATHS.includes(path) && path !== "/api/pull") {
			const failure = this.takeFailure(path, exchange.record.model);
			if (failure) return this.failNow(exchange, failure);
		}
		switch (route) {
			case "GET /":
			case "HEAD /":
				return exchange.text(200, "Ollama is running");
			case "GET /api/version":
			case "HEAD /api/version":
				return exchange.json(200, { version: this.version });
			case "GET /api/tags":
			case "HEAD /api/tags":
				return exchange.json(200, { models: this.tags() });
			case "GET /api/ps":
				return exchange.json(200, { models: this.ps() });
			case "POST /api/show":
				return this.show(exchange, body);
			case "DELETE /api/delete":
				return this.delete(exchange, body);
			case "POST /api/pull":
				return this.pull(exchange, body);
			case "POST /api/chat":
				return this.chat(exchange, body);
			case "POST /api/generate":
				return this.generate(exchange, body);
			case "POST /api/embed":
				return this.embed(exchange, body);
			default:
				return exchange.text(404, "404 page not found");
		}
	}

	/** Ollama's (gin's) answers to a body that is missing or not a JSON object: 400 with Go's wording where it is easy. */
	private parse(exchange: Exchange, raw: string): Record<string, unknown> | undefined {
		if (raw.trim() === "") {
			exchange.json(400, { error: "missing request body" });
			return undefined;
		}
		let value: unknown;
		try {
			value = JSON.parse(raw);
		} catch (error) {
			exchange.json(400, { error: goJsonError(raw, error) });
			return undefined;
		}
		exchange.record.body = value;
		if (value === null) return {};
		if (!isRecord(value)) {
			const goType = { "/api/chat": "ChatRequest", "/api/generate": "GenerateRequest", "/api/embed": "EmbedRequest" }[exchange.record.path] ?? "Request";
			exchange.json(400, { error: `json: cannot unmarshal ${goTypeOf(value)} into Go value of type api.${goType}` });
			return undefined;
		}
		const model = text(value.model) || text(value.name);
		if (model) exchange.record.model = normalizeModelName(model);
		return value;
	}

	private takeFailure(path: string, model: string | undefined): PendingFailure | undefined {
		const failure = this.failures.find(
			(candidate) => (candidate.path === undefined ? INFERENCE_PATHS.includes(path) : candidate.path === path) && (candidate.model === undefined || candidate.model === model),
		);
		if (!failure) return undefined;
		if (--failure.remaining <= 0) this.failures.splice(this.failures.indexOf(failure), 1);
		return failure;
	}

	private async failNow(exchange: Exchange, failure: PendingFailure): Promise<void> {
		switch (failure.kind) {
			case "http-500":
			case "stream-error":
				return exchange.json(500, { error: failure.message });
			case "http-503":
				return exchange.json(503, { error: failure.message });
			case "connection-reset":
				return exchange.reset();
			case "hang":
				return untilAborted(exchange.signal);
		}
	}

	/** The model of an inference request, or undefined once Ollama's error for it is answered. */
	private modelFor(exchange: Exchange, body: Record<string, unknown>, capability: "chat" | "generate" | "embed"): TestModel | undefined {
		const requested = text(body.model) ?? "";
		if (requested === "") {
			// Ollama answers an empty name on /api/chat as missing, and elsewhere as a model not found.
			if (capability === "chat") exchange.json(400, { error: "model is required" });
			else exchange.json(404, { error: "model '' not found" });
			return undefined;
		}
		const model = this.find(this.models, requested);
		if (!model) {
			// /api/embed reports the scheduler's wording, chat and generate the handler's.
			const error = capability === "embed" ? `model ${JSON.stringify(requested)} not found, try pulling it first` : `model '${requested}' not found`;
			exchange.json(404, { error });
			return undefined;
		}
		if (capability !== "embed" && !model.capabilities.includes("completion")) {
			exchange.json(400, { error: `${JSON.stringify(requested)} does not support ${capability}` });
			return undefined;
		}
		return model;
	}

	/** Takes a slot (or answers 503), applies a pending failure, loads the model, serves, and keeps the model loaded. */
	private async infer(exchange: Exchange, model: TestModel, keepAlive: KeepAlive, serve: (loadNs: number, failure: PendingFailure | undefined) => Promise<void>): Promise<void> {
		const release = await this.slots.acquire(exchange.signal);
		if (!release) return exchange.json(503, { error: BUSY_MESSAGE });
		try {
			const failure = this.takeFailure(exchange.record.path, model.name);
			if (failure && failure.kind !== "stream-error") return await this.failNow(exchange, failure);
			const loadNs = await this.ensureLoaded(model, exchange.signal);
			await serve(loadNs, failure);
			this.keepLoaded(model, keepAlive);
		} finally {
			release();
		}
	}

	private async ensureLoaded(model: TestModel, signal: AbortSignal): Promise<number> {
		const started = performance.now();
		this.expireLoaded();
		if (!this.loaded.has(model.name)) {
			let loading = this.loading.get(model.name);
			if (!loading) {
				// One load per model, shared by every request that waits for it, as Ollama's scheduler does.
				loading = pause(this.loadLatencyMs, this.lifetime.signal).then(() => this.markLoaded(model, { ms: DEFAULT_KEEP_ALIVE_MS }));
				loading.catch(() => undefined).finally(() => this.loading.delete(model.name));
				this.loading.set(model.name, loading);
			}
			await raceAbort(loading, signal);
		}
		return nanoseconds(performance.now() - started);
	}

	private markLoaded(model: TestModel, keepAlive: KeepAlive): void {
		this.loaded.set(model.name, {
			name: model.name,
			size: model.size,
			size_vram: model.size,
			digest: model.digest,
			details: structuredClone(model.details),
			expires_at: new Date(Date.now() + keepAlive.ms),
			context_length: Math.min(model.context_length, 4096),
		});
	}

	private keepLoaded(model: TestModel, keepAlive: KeepAlive): void {
		const loaded = this.loaded.get(model.name);
		if (!loaded) return;
		if (keepAlive.ms === 0) this.loaded.delete(model.name);
		else loaded.expires_at = new Date(Date.now() + keepAlive.ms);
	}

	private expireLoaded(): void {
		const now = Date.now();
		for (const [name, loaded] of this.loaded) if (loaded.expires_at.getTime() <= now) this.loaded.delete(name);
	}

	private reply(model: TestModel, input: string, format: StructuredFormat, numPredict: unknown, toolResult?: string): Reply {
		if (format && "schema" in format) {
			const json = JSON.stringify(sampleOf(format.schema, input));
			if (this.invalidJsonRemaining > 0) {
				this.invalidJsonRemaining--;
				return { text: json.slice(0, Math.ceil(json.length / 2)), doneReason: "stop" };
			}
			return { text: json, doneReason: "stop" };
		}
		const answer = answerText(model.name, input, toolResult);
		const limit = typeof numPredict === "number" && numPredict > 0 ? numPredict : Number.POSITIVE_INFINITY;
		const tokens = tokenize(answer);
		return tokens.length > limit ? { text: tokens.slice(0, limit).join(""), doneReason: "length" } : { text: answer, doneReason: "stop" };
	}

	/** A tool call when the last user message names one of the tools (arguments from its parameter schema). */
	private toolCallFor(tools: unknown, messages: readonly ChatMessage[]): Json | undefined {
		const last = messages.at(-1);
		if (!Array.isArray(tools) || last?.role !== "user") return undefined;
		for (const tool of tools) {
			const fn = isRecord(tool) && isRecord(tool.function) ? tool.function : undefined;
			const name = text(fn?.name);
			if (!fn || !name || !last.content.toLowerCase().includes(name.toLowerCase())) continue;
			const parameters = isRecord(fn.parameters) ? (fn.parameters as JsonSchema) : { type: "object" };
			return { id: `call_${sha256Hex(`${name}\n${last.content}`).slice(0, 8)}`, function: { index: 0, name, arguments: sampleOf(parameters, last.content) } };
		}
		return undefined;
	}

	private async chat(exchange: Exchange, body: Record<string, unknown>): Promise<void> {
		if (body.messages !== undefined && body.messages !== null && !Array.isArray(body.messages)) {
			return exchange.json(400, { error: `json: cannot unmarshal ${goTypeOf(body.messages)} into Go struct field ChatRequest.messages of type []api.Message` });
		}
		const model = this.modelFor(exchange, body, "chat");
		if (!model) return;
		const requested = text(body.model) ?? model.name;
		const keepAlive = keepAliveOf(body.keep_alive);
		const messages = messagesOf(body.messages);
		const format = formatOf(body.format);
		if (messages.length === 0) return this.loadOnly(exchange, model, requested, keepAlive, { message: { role: "assistant", content: "" } });
		if (format && "invalid" in format) return exchange.json(500, { error: format.invalid });

		const toolCall = format ? undefined : this.toolCallFor(body.tools, messages);
		const last = messages.at(-1);
		const toolResult = last?.role === "tool" ? last.content : undefined;
		const message = (content: string): { [key: string]: Json } => ({ role: "assistant", content });
		await this.run(exchange, model, keepAlive, () => {
			const promptTokens = messages.reduce((sum, { content }) => sum + countTokens(content) + 4, 0);
			const stream = body.stream !== false;
			if (toolCall) {
				const call = { message: { ...message(""), tool_calls: [toolCall] } };
				return { requested, stream, promptTokens, evalCount: 12, doneReason: "stop", chunks: [call], last: { message: message("") }, whole: call };
			}
			const reply = this.reply(model, lastUserText(messages), format, isRecord(body.options) ? body.options.num_predict : undefined, toolResult);
			const pieces = tokenize(reply.text);
			return {
				requested,
				stream,
				promptTokens,
				evalCount: pieces.length,
				doneReason: reply.doneReason,
				chunks: pieces.map((piece) => ({ message: message(piece) })),
				last: { message: message("") },
				whole: { message: message(reply.text) },
			};
		});
	}

	private async generate(exchange: Exchange, body: Record<string, unknown>): Promise<void> {
		const model = this.modelFor(exchange, body, "generate");
		if (!model) return;
		const requested = text(body.model) ?? model.name;
		const keepAlive = keepAliveOf(body.keep_alive);
		const prompt = text(body.prompt) ?? "";
		const format = formatOf(body.format);
		if (prompt === "") return this.loadOnly(exchange, model, requested, keepAlive, { response: "" });
		if (format && "invalid" in format) return exchange.json(500, { error: format.invalid });

		await this.run(exchange, model, keepAlive, () => {
			const reply = this.reply(model, prompt, format, isRecord(body.options) ? body.options.num_predict : undefined);
			const pieces = tokenize(reply.text);
			// `context` encodes the conversation for a follow-up request; any stable numbers will do.
			const context = tokenize(`${prompt}${reply.text}`).map((token) => fnv1a(token) % 128_000);
			return {
				requested,
				stream: body.stream !== false,
				promptTokens: countTokens(`${text(body.system) ?? ""} ${prompt}`) + 4,
				evalCount: pieces.length,
				doneReason: reply.doneReason,
				chunks: pieces.map((piece) => ({ response: piece })),
				last: { response: "", context },
				whole: { response: reply.text, context },
			};
		});
	}

	/** A request without messages (or prompt) only loads the model — or unloads it with keep_alive 0. */
	private async loadOnly(exchange: Exchange, model: TestModel, requested: string, keepAlive: KeepAlive, fields: { [key: string]: Json }): Promise<void> {
		await this.infer(exchange, model, keepAlive, async () => {
			const doneReason = keepAlive.ms === 0 ? "unload" : "load";
			exchange.json(200, { model: requested, created_at: new Date().toISOString(), ...fields, done: true, done_reason: doneReason });
		});
	}

	/** `generate` runs once the request holds a slot, so that a refused request uses up no `invalidJsonNext`. */
	private async run(exchange: Exchange, model: TestModel, keepAlive: KeepAlive, generate: () => Generation): Promise<void> {
		await this.infer(exchange, model, keepAlive, async (loadNs, failure) => {
			const generation = generate();
			const signal = exchange.signal;
			const promptStarted = performance.now();
			await pause(this.latencyMs, signal);
			const promptNs = nanoseconds(performance.now() - promptStarted);
			const evalStarted = performance.now();
			const metrics = (): Metrics => ({
				total_duration: nanoseconds(performance.now() - exchange.startedAt),
				load_duration: loadNs,
				prompt_eval_count: generation.promptTokens,
				prompt_eval_duration: promptNs,
				eval_count: generation.evalCount,
				eval_duration: nanoseconds(performance.now() - evalStarted),
			});
			const head = (): { [key: string]: Json } => ({ model: generation.requested, created_at: new Date().toISOString() });

			if (!generation.stream) {
				await pause(this.tokenIntervalMs * Math.max(0, generation.chunks.length - 1), signal);
				if (failure) return exchange.json(500, { error: failure.message });
				return exchange.json(200, { ...head(), ...generation.whole, done: true, done_reason: generation.doneReason, ...metrics() });
			}
			for (const [index, chunk] of generation.chunks.entries()) {
				if (failure && index >= failure.afterChunks) return exchange.streamError(failure.message);
				if (index > 0) await pause(this.tokenIntervalMs, signal);
				exchange.line({ ...head(), ...chunk, done: false });
			}
			if (failure) return exchange.streamError(failure.message);
			exchange.line({ ...head(), ...generation.last, done: true, done_reason: generation.doneReason, ...metrics() });
			exchange.end();
		});
	}

	private async embed(exchange: Exchange, body: Record<string, unknown>): Promise<void> {
		const input = body.input;
		const valid = input === undefined || input === null || typeof input === "string" || (Array.isArray(input) && input.every((item) => typeof item === "string"));
		if (!valid) return exchange.json(400, { error: "invalid input type" });
		const model = this.modelFor(exchange, body, "embed");
		if (!model) return;
		const requested = text(body.model) ?? model.name;
		const inputs: string[] = typeof input === "string" ? (input === "" ? [] : [input]) : Array.isArray(input) ? input.map(String) : [];
		const dimensions = typeof body.dimensions === "number" ? body.dimensions : 0;

		await this.infer(exchange, model, keepAliveOf(body.keep_alive), async (loadNs, failure) => {
			if (inputs.length === 0) return exchange.json(200, { model: requested, embeddings: [] });
			if (body.truncate === false && inputs.some((item) => countTokens(item) > model.context_length)) {
				return exchange.json(400, { error: "the input length exceeds the context length" });
			}
			await pause(this.latencyMs, exchange.signal);
			if (failure) return exchange.json(500, { error: failure.message });
			const embeddings = inputs.map((item) => {
				const vector = embedText(item, model.embedding_length);
				return dimensions > 0 && dimensions < vector.length ? normalize(vector.slice(0, dimensions)) : vector;
			});
			exchange.json(200, {
				model: requested,
				embeddings,
				total_duration: nanoseconds(performance.now() - exchange.startedAt),
				load_duration: loadNs,
				prompt_eval_count: inputs.reduce((sum, item) => sum + countTokens(item) + 2, 0),
			});
		});
	}

	private tags(): Json[] {
		return [...this.models.values()]
			.sort((a, b) => b.modified_at.localeCompare(a.modified_at))
			.map((model) => ({ name: model.name, model: model.name, modified_at: model.modified_at, size: model.size, digest: model.digest, details: { ...model.details } }));
	}

	private ps(): Json[] {
		this.expireLoaded();
		return [...this.loaded.values()]
			.sort((a, b) => b.expires_at.getTime() - a.expires_at.getTime())
			.map((loaded) => ({
				name: loaded.name,
				model: loaded.name,
				size: loaded.size,
				digest: loaded.digest,
				details: { ...loaded.details },
				expires_at: loaded.expires_at.toISOString(),
				size_vram: loaded.size_vram,
				context_length: loaded.context_length,
			}));
	}

	private show(exchange: Exchange, body: Record<string, unknown>): void {
		const requested = text(body.model) || text(body.name);
		if (!requested) return exchange.json(400, { error: "model is required" });
		const model = this.find(this.models, requested);
		if (!model) return exchange.json(404, { error: `model '${requested}' not found` });
		const family = model.details.family;
		exchange.json(200, {
			license: "Test model license",
			modelfile: `# Modelfile generated by "ollama show"\nFROM ${model.name}\n`,
			parameters: "temperature 0.7",
			template: "{{ .Prompt }}",
			details: { ...model.details },
			model_info: {
				"general.architecture": family,
				"general.parameter_count": model.size * 2,
				[`${family}.context_length`]: model.context_length,
				[`${family}.embedding_length`]: model.embedding_length,
			},
			capabilities: [...model.capabilities],
			modified_at: model.modified_at,
		});
	}

	private delete(exchange: Exchange, body: Record<string, unknown>): void {
		const requested = text(body.model) || text(body.name) || "";
		const model = this.find(this.models, requested);
		if (!model) return exchange.json(404, { error: `model '${requested}' not found` });
		this.models.delete(model.name);
		this.loaded.delete(model.name);
		exchange.text(200, "");
	}

	/** Progress as Ollama's PullModel reports it; a model unknown to `registry` fails after "pulling manifest". */
	private async pull(exchange: Exchange, body: Record<string, unknown>): Promise<void> {
		const requested = text(body.model) || text(body.name);
		if (!requested) return exchange.json(400, { error: "invalid model name" });
		const failure = this.takeFailure("/api/pull", exchange.record.model);
		if (failure && failure.kind !== "stream-error") return this.failNow(exchange, failure);
		const model = this.find(this.registry, requested);
		const steps = model ? pullProgress(model) : [{ status: "pulling manifest" }];
		const error = failure?.message ?? (model ? undefined : "pull model manifest: file does not exist");
		const errorAfter = failure ? failure.afterChunks : steps.length;
		const stream = body.stream !== false;

		for (const [index, step] of steps.entries()) {
			if (index > 0) await pause(this.tokenIntervalMs, exchange.signal);
			if (error !== undefined && index >= errorAfter) break;
			if (model && step.status === "success") this.models.set(model.name, { ...structuredClone(model), modified_at: new Date().toISOString() });
			if (stream) exchange.line(step);
		}
		if (error !== undefined) return stream ? exchange.streamError(error) : exchange.json(500, { error });
		if (stream) return exchange.end();
		exchange.json(200, { status: "success" });
	}
}

function pullProgress(model: TestModel): Array<{ [key: string]: Json }> {
	const layer = (kind: string): string => `sha256:${sha256Hex(`${kind}:${model.name}`)}`;
	const weights = layer("weights");
	const small = [layer("template"), layer("license"), layer("params")].map((digest, i) => ({ digest, total: [1_429, 7_711, 96][i] }));
	const weightsTotal = Math.max(1, model.size - small.reduce((sum, { total }) => sum + total, 0));
	return [
		{ status: "pulling manifest" },
		// The first line of a layer has no `completed`: Go omits the zero.
		{ status: `pulling ${weights.slice(7, 19)}`, digest: weights, total: weightsTotal },
		{ status: `pulling ${weights.slice(7, 19)}`, digest: weights, total: weightsTotal, completed: Math.floor(weightsTotal / 2) },
		{ status: `pulling ${weights.slice(7, 19)}`, digest: weights, total: weightsTotal, completed: weightsTotal },
		...small.map(({ digest, total }) => ({ status: `pulling ${digest.slice(7, 19)}`, digest, total, completed: total })),
		{ status: "verifying sha256 digest" },
		{ status: "writing manifest" },
		{ status: "success" },
	];
}

async function readBody(req: IncomingMessage): Promise<string> {
	const chunks: Buffer[] = [];
	for await (const chunk of req) chunks.push(chunk as Buffer);
	return Buffer.concat(chunks).toString("utf8");
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
	return delay(Math.max(0, ms), undefined, { signal });
}

/** `promise`, or the abort reason if the signal fires first; no listener or rejection is left behind. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
	return new Promise((resolve, reject) => {
		if (signal.aborted) return reject(signal.reason);
		const onAbort = (): void => reject(signal.reason);
		signal.addEventListener("abort", onAbort, { once: true });
		promise.then(
			(value) => {
				signal.removeEventListener("abort", onAbort);
				resolve(value);
			},
			(error: unknown) => {
				signal.removeEventListener("abort", onAbort);
				reject(error);
			},
		);
	});
}

function untilAborted(signal: AbortSignal): Promise<never> {
	return new Promise((_, reject) => {
		if (signal.aborted) return reject(signal.reason);
		signal.addEventListener("abort", () => reject(signal.reason), { once: true });
	});
}

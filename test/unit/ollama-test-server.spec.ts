import { Ollama, type ChatResponse, type GenerateResponse, type ProgressResponse } from "ollama";
import { setTimeout as delay } from "node:timers/promises";
import { BUSY_MESSAGE, OllamaTestServer } from "../support/ollama-server";

const CHAT_MODEL = "llama3.2";
const EMBED_MODEL = "nomic-embed-text";
const DIMENSION = 64;

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
	const items: T[] = [];
	for await (const item of stream) items.push(item);
	return items;
}

async function until(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > deadline) throw new Error("condition not met in time");
		await delay(5);
	}
}

/**
 * fetch's TypeError("fetch failed") keeps the socket error in a non-enumerable `cause` (and comes from Node's realm,
 * not jest's, so `instanceof Error` is false).
 */
async function connectionErrorOf(request: Promise<unknown>): Promise<{ message: unknown; code: unknown }> {
	const error = await request.then(
		() => undefined,
		(reason: { message?: unknown; cause?: { code?: unknown } }) => reason,
	);
	if (error === undefined) throw new Error("the request did not fail");
	return { message: error.message, code: error.cause?.code };
}

function cosine(a: number[], b: number[]): number {
	return a.reduce((sum, value, i) => sum + value * b[i], 0);
}

function norm(vector: number[]): number {
	return Math.sqrt(cosine(vector, vector));
}

function ask(question: string): { model: string; messages: Array<{ role: string; content: string }> } {
	return { model: CHAT_MODEL, messages: [{ role: "user", content: question }] };
}

describe("OllamaTestServer, driven by the official ollama client", () => {
	let server: OllamaTestServer;
	let ollama: Ollama;

	beforeAll(async () => {
		server = await OllamaTestServer.start({ embeddingDimension: DIMENSION, latencyMs: 2, tokenIntervalMs: 1 });
		ollama = new Ollama({ host: server.url });
	});
	afterAll(() => server.stop());
	beforeEach(async () => {
		await server.up();
		server.reset();
	});

	describe("POST /api/chat", () => {
		it("streams the answer in several chunks, then a last one with done, done_reason and the counters", async () => {
			const chunks = await collect(await ollama.chat({ ...ask("How do I plan a sprint?"), stream: true }));

			const pieces = chunks.slice(0, -1);
			const last = chunks[chunks.length - 1];
			expect(pieces.length).toBeGreaterThan(3);
			for (const piece of pieces) expect(piece).toMatchObject({ model: CHAT_MODEL, done: false, message: { role: "assistant" } });
			expect(last).toMatchObject({ model: CHAT_MODEL, done: true, done_reason: "stop", message: { role: "assistant", content: "" }, eval_count: pieces.length });
			for (const counter of ["total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_duration"] as const) {
				expect(last[counter]).toBeGreaterThan(0);
			}
			expect(new Date(String(last.created_at)).getTime()).not.toBeNaN();
			expect(pieces.map((piece) => piece.message.content).join("")).toContain("How do I plan a sprint?");
		});

		it("answers one whole message when not streaming: the text the stream spells out", async () => {
			const streamed = await collect(await ollama.chat({ ...ask("What is a backlog?"), stream: true }));

			const whole = await ollama.chat({ ...ask("What is a backlog?"), stream: false });

			expect(whole).toMatchObject({ done: true, done_reason: "stop", message: { role: "assistant" } });
			expect(whole.message.content).toBe(streamed.map((chunk) => chunk.message.content).join(""));
			expect(whole.eval_count).toBe(streamed.length - 1);
		});

		it("gives the same content for the same input, and another for another question", async () => {
			const first = await ollama.chat(ask("Summarise the meeting"));
			const again = await ollama.chat(ask("Summarise the meeting"));
			const other = await ollama.chat(ask("Draft a release note"));

			expect(again.message.content).toBe(first.message.content);
			expect(other.message.content).not.toBe(first.message.content);
		});

		it("stops at options.num_predict tokens with done_reason length", async () => {
			const answer = await ollama.chat({ ...ask("Explain event sourcing in detail"), options: { num_predict: 3 } });

			expect(answer).toMatchObject({ done_reason: "length", eval_count: 3 });
		});

		it("calls a tool the user's message names, with arguments valid against its parameters", async () => {
			const tools = [
				{
					type: "function",
					function: {
						name: "get_weather",
						description: "The weather in a city",
						parameters: { type: "object", properties: { city: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } }, required: ["city"] },
					},
				},
			];

			const answer = await ollama.chat({ ...ask("Use get_weather for Paris"), tools });

			const call = answer.message.tool_calls?.[0];
			expect(call?.function.name).toBe("get_weather");
			expect(call?.function.arguments).toEqual({ city: expect.any(String), unit: expect.stringMatching(/^(celsius|fahrenheit)$/) });
		});

		it("with no messages only loads the model (done_reason load), and keep_alive 0 unloads it", async () => {
			expect(await ollama.chat({ model: CHAT_MODEL, messages: [] })).toMatchObject({ done: true, done_reason: "load" });
			expect((await ollama.ps()).models.map((model) => model.name)).toEqual(["llama3.2:latest"]);

			expect(await ollama.chat({ model: CHAT_MODEL, messages: [], keep_alive: 0 })).toMatchObject({ done_reason: "unload" });
			expect((await ollama.ps()).models).toEqual([]);
		});
	});

	describe("structured output (format)", () => {
		const taskSchema = {
			type: "object",
			properties: {
				title: { type: "string" },
				priority: { type: "string", enum: ["low", "medium", "high"] },
				estimateHours: { type: "number", minimum: 1, maximum: 8 },
				done: { type: "boolean" },
				tags: { type: "array", items: { type: "string" } },
			},
			required: ["title", "priority", "estimateHours", "done", "tags"],
		};

		it("answers JSON valid against the requested schema, the same for the same input", async () => {
			const answer = await ollama.chat({ ...ask("Turn 'fix the login bug' into a task"), format: taskSchema });
			const again = await ollama.chat({ ...ask("Turn 'fix the login bug' into a task"), format: taskSchema });

			const task = JSON.parse(answer.message.content) as { estimateHours: number };
			expect(task).toEqual({
				title: expect.any(String),
				priority: expect.stringMatching(/^(low|medium|high)$/),
				estimateHours: expect.any(Number),
				done: expect.any(Boolean),
				tags: [expect.any(String), expect.any(String)],
			});
			expect(task.estimateHours).toBeGreaterThanOrEqual(1);
			expect(task.estimateHours).toBeLessThanOrEqual(8);
			expect(again.message.content).toBe(answer.message.content);
		});

		it('answers a JSON object for format "json", streamed in pieces', async () => {
			const chunks = await collect(await ollama.generate({ model: CHAT_MODEL, prompt: "List three colours", format: "json", stream: true }));

			expect(chunks.length).toBeGreaterThan(2);
			expect(JSON.parse(chunks.map((chunk) => chunk.response).join(""))).toEqual({ answer: expect.any(String) });
		});

		it("invalidJsonNext(1) spoils exactly the next structured answer", async () => {
			server.invalidJsonNext(1);

			const spoiled = await ollama.chat({ ...ask("Make a task"), format: taskSchema });
			const retried = await ollama.chat({ ...ask("Make a task"), format: taskSchema });

			expect(() => JSON.parse(spoiled.message.content)).toThrow(SyntaxError);
			expect(JSON.parse(retried.message.content)).toMatchObject({ title: expect.any(String) });
		});

		it('answers 500 with Ollama\'s message to a format that is neither "json" nor a schema', async () => {
			await expect(ollama.chat({ ...ask("Hi"), format: "yaml" })).rejects.toMatchObject({
				name: "ResponseError",
				status_code: 500,
				error: 'invalid format: "\\"yaml\\""; expected "json" or a valid JSON Schema object',
			});
		});
	});

	describe("POST /api/generate", () => {
		it("streams response pieces and ends with done, the counters and a context", async () => {
			const chunks: GenerateResponse[] = await collect(await ollama.generate({ model: CHAT_MODEL, prompt: "Write a haiku about tests", stream: true }));

			const last = chunks[chunks.length - 1];
			expect(chunks.length).toBeGreaterThan(3);
			expect(chunks.slice(0, -1).every((chunk) => chunk.done === false && chunk.response !== "")).toBe(true);
			expect(last).toMatchObject({ done: true, done_reason: "stop", response: "", eval_count: chunks.length - 1 });
			expect(last.context.length).toBeGreaterThan(0);
			expect(last.prompt_eval_count).toBeGreaterThan(0);
		});

		it("answers the whole response at once when not streaming", async () => {
			const streamed = await collect(await ollama.generate({ model: CHAT_MODEL, prompt: "Name a colour", stream: true }));

			const whole = await ollama.generate({ model: CHAT_MODEL, prompt: "Name a colour" });

			expect(whole).toMatchObject({ done: true, done_reason: "stop", model: CHAT_MODEL });
			expect(whole.response).toBe(streamed.map((chunk) => chunk.response).join(""));
		});
	});

	describe("POST /api/embed", () => {
		it("answers one deterministic unit vector per input, of the model's dimension", async () => {
			const answer = await ollama.embed({ model: EMBED_MODEL, input: ["first text", "second text"] });
			const again = await ollama.embed({ model: EMBED_MODEL, input: "first text" });

			expect(answer).toMatchObject({ model: EMBED_MODEL, prompt_eval_count: expect.any(Number), total_duration: expect.any(Number) });
			expect(answer.embeddings).toHaveLength(2);
			for (const vector of answer.embeddings) {
				expect(vector).toHaveLength(DIMENSION);
				expect(norm(vector)).toBeCloseTo(1, 6);
			}
			expect(again.embeddings).toEqual([answer.embeddings[0]]);
		});

		it("puts texts that share words closer together than unrelated texts", async () => {
			const { embeddings } = await ollama.embed({
				model: EMBED_MODEL,
				input: ["the cat sat on the mat", "a cat sat on a mat", "quarterly revenue report for finance"],
			});
			const [cat, sameCat, finance] = embeddings;

			expect(cosine(cat, sameCat)).toBeGreaterThan(0.6);
			expect(cosine(cat, sameCat)).toBeGreaterThan(cosine(cat, finance) + 0.4);
		});

		it("truncates to `dimensions` and normalises again", async () => {
			const { embeddings } = await ollama.embed({ model: EMBED_MODEL, input: "short vectors", dimensions: 16 });

			expect(embeddings[0]).toHaveLength(16);
			expect(norm(embeddings[0])).toBeCloseTo(1, 6);
		});
	});

	describe("models: tags, ps, show, version", () => {
		it("lists the installed models with Ollama's fields", async () => {
			const { models } = await ollama.list();

			expect(models.map((model) => model.name).sort()).toEqual(["llama3.2:latest", "nomic-embed-text:latest"]);
			expect(models.find((model) => model.name === "llama3.2:latest")).toEqual({
				name: "llama3.2:latest",
				model: "llama3.2:latest",
				modified_at: expect.any(String),
				size: expect.any(Number),
				digest: expect.stringMatching(/^[0-9a-f]{64}$/),
				details: { parent_model: "", format: "gguf", family: "llama", families: ["llama"], parameter_size: "3.2B", quantization_level: "Q4_K_M" },
			});
		});

		it("answers the version", async () => {
			expect(await ollama.version()).toEqual({ version: expect.stringMatching(/^0\.\d+\.\d+$/) });
		});

		it("loads a model on its first request (after loadLatencyMs): ps then reports it with size_vram and expires_at", async () => {
			server.loadLatencyMs = 30;
			expect((await ollama.ps()).models).toEqual([]);

			const first = await ollama.chat(ask("Hello"));
			const second = await ollama.chat(ask("Hello again"));

			// A 30 ms timer may fire a fraction of a millisecond early by the performance clock.
			expect(first.load_duration).toBeGreaterThanOrEqual(29e6);
			expect(second.load_duration).toBeLessThan(30e6);
			const [loaded] = (await ollama.ps()).models;
			expect(loaded).toMatchObject({ name: "llama3.2:latest", model: "llama3.2:latest", size_vram: expect.any(Number), details: { family: "llama" } });
			expect(loaded.size_vram).toBeGreaterThan(0);
			expect(new Date(String(loaded.expires_at)).getTime()).toBeGreaterThan(Date.now() + 4 * 60_000);
			expect([...server.loaded.keys()]).toEqual(["llama3.2:latest"]);
		});

		it("shows a model's details and capabilities", async () => {
			const shown = await ollama.show({ model: EMBED_MODEL });

			expect(shown.capabilities).toEqual(["embedding"]);
			expect(shown.details).toMatchObject({ family: "nomic-bert" });
		});
	});

	describe("errors the client sees as Ollama's", () => {
		it("answers 404 for a model that is not installed, in each endpoint's wording", async () => {
			await expect(ollama.chat({ model: "mistral:7b", messages: [{ role: "user", content: "Hi" }] })).rejects.toMatchObject({
				name: "ResponseError",
				status_code: 404,
				error: "model 'mistral:7b' not found",
			});
			await expect(ollama.generate({ model: "mistral:7b", prompt: "Hi" })).rejects.toMatchObject({ status_code: 404, error: "model 'mistral:7b' not found" });
			await expect(ollama.embed({ model: "mistral:7b", input: "Hi" })).rejects.toMatchObject({
				status_code: 404,
				error: 'model "mistral:7b" not found, try pulling it first',
			});
		});

		it("answers 400 to a missing model, a missing body and a body that is not JSON", async () => {
			const post = (body: string): Promise<Response> => fetch(`${server.url}/api/chat`, { method: "POST", body, headers: { "content-type": "application/json" } });

			const noModel = await post(JSON.stringify({ messages: [{ role: "user", content: "hi" }] }));
			const noBody = await post("");
			const notJson = await post("hello");

			expect([noModel.status, await noModel.json()]).toEqual([400, { error: "model is required" }]);
			expect([noBody.status, await noBody.json()]).toEqual([400, { error: "missing request body" }]);
			expect([notJson.status, await notJson.json()]).toEqual([400, { error: "invalid character 'h' looking for beginning of value" }]);
		});

		it("refuses chat with an embedding-only model", async () => {
			await expect(ollama.chat({ model: EMBED_MODEL, messages: [{ role: "user", content: "Hi" }] })).rejects.toMatchObject({
				status_code: 400,
				error: '"nomic-embed-text" does not support chat',
			});
		});

		it("streams NDJSON by default when the request does not say (the client itself defaults to stream: false)", async () => {
			const answer = await fetch(`${server.url}/api/chat`, { method: "POST", body: JSON.stringify(ask("Hi")) });

			expect(answer.headers.get("content-type")).toBe("application/x-ndjson");
			const lines = (await answer.text()).trim().split("\n").map((line) => JSON.parse(line) as ChatResponse);
			expect(lines.length).toBeGreaterThan(1);
			expect(lines[lines.length - 1].done).toBe(true);
		});
	});

	describe("capacity: parallel slots and the queue", () => {
		it("with parallel=1, refuses a second concurrent request with 503 and Ollama's busy message", async () => {
			server.parallel = 1;
			server.latencyMs = 100;
			const first = ollama.chat(ask("Long question"));
			await until(() => server.inFlight === 1);

			await expect(ollama.chat(ask("Impatient question"))).rejects.toMatchObject({ name: "ResponseError", status_code: 503, error: BUSY_MESSAGE });
			expect(BUSY_MESSAGE).toBe("server busy, please try again.  maximum pending requests exceeded");
			await expect(first).resolves.toMatchObject({ done: true });
			expect(server.maxConcurrent).toBe(1);
		});

		it("lets up to queueLimit requests wait for a slot, and refuses the rest", async () => {
			server.parallel = 1;
			server.queueLimit = 1;
			server.latencyMs = 60;
			const served = ollama.chat(ask("one"));
			await until(() => server.inFlight === 1);
			const waiting = ollama.chat(ask("two"));
			await until(() => server.queued === 1);

			await expect(ollama.chat(ask("three"))).rejects.toMatchObject({ status_code: 503 });
			await expect(Promise.all([served, waiting])).resolves.toHaveLength(2);
			expect(server.maxConcurrent).toBe(1);
		});

		it("counts requests per endpoint and per model, in flight and at most at once, and keeps the bodies", async () => {
			await Promise.all([ollama.chat(ask("a")), ollama.chat(ask("b")), ollama.embed({ model: EMBED_MODEL, input: "c" })]);

			expect(server.requestCount({ path: "/api/chat" })).toBe(2);
			expect(server.requestCount({ model: "llama3.2:latest" })).toBe(2);
			expect(server.requestCount({ model: EMBED_MODEL })).toBe(1);
			expect(server.maxConcurrent).toBe(3);
			expect(server.inFlight).toBe(0);
			expect(server.lastBody("/api/embed")).toEqual({ model: EMBED_MODEL, input: "c" });
			expect(server.requests({ path: "/api/chat" }).every((request) => request.status === 200 && request.completed)).toBe(true);
		});
	});

	describe("failure injection", () => {
		it("http-500: the client throws a ResponseError 500 with the runner's message", async () => {
			server.failNext(1, "http-500");

			await expect(ollama.chat(ask("Hi"))).rejects.toMatchObject({ status_code: 500, error: "llama runner process has terminated: exit status 2" });
			await expect(ollama.chat(ask("Hi"))).resolves.toMatchObject({ done: true });
		});

		it("http-503 for the requests of one model only", async () => {
			server.failNext(2, "http-503", { model: EMBED_MODEL });

			await expect(ollama.chat(ask("Hi"))).resolves.toMatchObject({ done: true });
			await expect(ollama.embed({ model: EMBED_MODEL, input: "x" })).rejects.toMatchObject({ status_code: 503, error: BUSY_MESSAGE });
			await expect(ollama.embed({ model: EMBED_MODEL, input: "x" })).rejects.toMatchObject({ status_code: 503 });
			await expect(ollama.embed({ model: EMBED_MODEL, input: "x" })).resolves.toMatchObject({ embeddings: [expect.any(Array)] });
		});

		it("connection-reset: fetch fails with ECONNRESET before any answer", async () => {
			server.failNext(1, "connection-reset");

			expect(await connectionErrorOf(ollama.chat(ask("Hi")))).toEqual({ message: "fetch failed", code: "ECONNRESET" });
			expect(server.inFlight).toBe(0);
		});

		it("stream-error: some chunks, then the async iterator throws the error line's message", async () => {
			server.failNext(1, "stream-error", { afterChunks: 2 });
			const received: string[] = [];

			const stream = await ollama.chat({ ...ask("Tell me a story"), stream: true });
			const reading = (async () => {
				for await (const chunk of stream) received.push(chunk.message.content);
			})();

			await expect(reading).rejects.toThrow("an error was encountered while running the model: unexpected EOF");
			expect(received).toHaveLength(2);
			expect(server.requests({ path: "/api/chat" })[0]).toMatchObject({ status: 200, completed: true, abortedByClient: false });
		});

		it("stream-error on a request that does not stream: a 500", async () => {
			server.failNext(1, "stream-error");

			await expect(ollama.generate({ model: CHAT_MODEL, prompt: "Hi" })).rejects.toMatchObject({ status_code: 500 });
		});

		it("hang: no answer while the client waits; its abort is counted and frees the slot", async () => {
			server.failNext(1, "hang");
			server.parallel = 1;
			const controller = new AbortController();
			let settled = false;

			const answer = fetch(`${server.url}/api/chat`, { method: "POST", body: JSON.stringify(ask("Hi")), signal: controller.signal });
			void answer.then(() => (settled = true), () => (settled = true));
			await until(() => server.inFlight === 1);
			await delay(50);
			expect(settled).toBe(false);
			controller.abort();

			await expect(answer).rejects.toThrow(/abort/i);
			await until(() => server.inFlight === 0);
			expect(server.abortedCount).toBe(1);
			await expect(ollama.chat(ask("Next"))).resolves.toMatchObject({ done: true });
		});
	});

	describe("POST /api/pull", () => {
		it("streams progress (manifest, layers with digest/total/completed) and ends with success; the model is then installed", async () => {
			const progress: ProgressResponse[] = await collect(await ollama.pull({ model: "qwen2.5:0.5b", stream: true }));

			expect(progress[0]).toEqual({ status: "pulling manifest" });
			expect(progress).toContainEqual({ status: expect.stringMatching(/^pulling [0-9a-f]{12}$/), digest: expect.stringMatching(/^sha256:/), total: expect.any(Number), completed: expect.any(Number) });
			expect(progress.slice(-3).map((line) => line.status)).toEqual(["verifying sha256 digest", "writing manifest", "success"]);
			expect((await ollama.list()).models.map((model) => model.name)).toContain("qwen2.5:0.5b");
			await expect(ollama.chat({ model: "qwen2.5:0.5b", messages: [{ role: "user", content: "Hi" }] })).resolves.toMatchObject({ done: true });
		});

		it("fails a model the registry does not have: an error line when streaming, a 500 otherwise", async () => {
			const stream = await ollama.pull({ model: "no-such-model", stream: true });

			await expect(collect(stream)).rejects.toThrow("pull model manifest: file does not exist");
			await expect(ollama.pull({ model: "no-such-model" })).rejects.toMatchObject({ status_code: 500, error: "pull model manifest: file does not exist" });
			expect((await ollama.list()).models.map((model) => model.name)).not.toContain("no-such-model:latest");
		});
	});

	describe("client aborts", () => {
		it("a stream aborted by the client stops the generation, is counted as aborted and frees the slot", async () => {
			server.parallel = 1;
			server.tokenIntervalMs = 20;
			const stream = await ollama.chat({ ...ask("A long answer please"), stream: true });
			const reader = stream[Symbol.asyncIterator]();
			expect((await reader.next()).done).toBe(false);

			stream.abort();

			await expect(reader.next()).rejects.toThrow(/abort/i);
			await until(() => server.inFlight === 0);
			expect(server.abortedCount).toBe(1);
			expect(server.requests({ path: "/api/chat" })[0]).toMatchObject({ abortedByClient: true, completed: false });
			server.tokenIntervalMs = 1;
			await expect(ollama.chat(ask("Next"))).resolves.toMatchObject({ done: true });
		});

		it("ollama.abort() aborts every ongoing stream of that client", async () => {
			server.tokenIntervalMs = 20;
			const streams = await Promise.all([ollama.generate({ model: CHAT_MODEL, prompt: "one", stream: true }), ollama.generate({ model: CHAT_MODEL, prompt: "two", stream: true })]);

			ollama.abort();

			for (const stream of streams) await expect(collect(stream)).rejects.toThrow(/abort/i);
			await until(() => server.abortedCount === 2 && server.inFlight === 0);
		});
	});

	describe("availability: down/up, kill/restart", () => {
		it("down() refuses connections and up() serves again on the same port, with its state", async () => {
			await ollama.chat(ask("warm up"));
			const url = server.url;

			await server.down();
			expect(await connectionErrorOf(ollama.list())).toEqual({ message: "fetch failed", code: "ECONNREFUSED" });
			await server.up();

			expect(server.url).toBe(url);
			expect((await ollama.ps()).models.map((model) => model.name)).toEqual(["llama3.2:latest"]);
		});

		it('down("reset") keeps the port but resets every connection', async () => {
			await server.down("reset");
			expect(await connectionErrorOf(ollama.version())).toEqual({ message: "fetch failed", code: "ECONNRESET" });
			await server.up();

			await expect(ollama.version()).resolves.toEqual({ version: expect.any(String) });
		});

		it("kill() cuts a stream in flight and forgets the loaded models; restart() listens on the same port", async () => {
			server.tokenIntervalMs = 20;
			const url = server.url;
			const stream = await ollama.chat({ ...ask("A long answer please"), stream: true });
			const reader = stream[Symbol.asyncIterator]();
			await reader.next();

			await server.kill();

			await expect(reader.next()).rejects.toThrow();
			expect(server.abortedCount).toBe(0);
			expect(server.requests({ path: "/api/chat" })[0]).toMatchObject({ completed: false, abortedByClient: false });
			expect(await connectionErrorOf(ollama.version())).toEqual({ message: "fetch failed", code: "ECONNREFUSED" });
			await server.restart();
			server.tokenIntervalMs = 1;
			expect(server.url).toBe(url);
			expect((await ollama.ps()).models).toEqual([]);
			await expect(ollama.chat(ask("Hi"))).resolves.toMatchObject({ done: true });
		});

		it("stop() ends a request that hangs", async () => {
			const other = await OllamaTestServer.start();
			other.failNext(1, "hang");
			const failure = connectionErrorOf(new Ollama({ host: other.url }).chat(ask("Hi")));
			await until(() => other.inFlight === 1);

			await other.stop();

			// undici's words for a connection closed while it waited for the answer
			expect(await failure).toEqual({ message: "fetch failed", code: "UND_ERR_SOCKET" });
			expect(other.inFlight).toBe(0);
		});
	});
});

import type { AiChatAnswer, AiChatChunk, AiClassifyAnswer, AiEmbedAnswer, ClassifySchema } from "../../types/ai";
import { OllamaTestServer } from "../support/ollama-server";
import { startPlatform, type ErrorBody, type Platform, type SignedInUser } from "../support/platform";
import { until } from "../support/waiting";

const ASK = { messages: [{ role: "user", content: "What is a colony of ants?" }] };


/** POSTs and reads the NDJSON answer line by line. */
async function streamed(platform: Platform, token: string, body: object): Promise<{ contentType: string | null; lines: (AiChatChunk & { error?: string })[] }> {
	const res = await fetch(`${platform.client.baseUrl}/api/v1/ai/chat`, {
		method: "POST",
		headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
		body: JSON.stringify(body),
	});
	const text = await res.text();
	return { contentType: res.headers.get("content-type"), lines: text.trim().split("\n").map((line) => JSON.parse(line)) };
}

describe("the ai service on one host", () => {
	let ollama: OllamaTestServer;
	let platform: Platform;
	let admin: SignedInUser;
	let member: SignedInUser;

	beforeAll(async () => {
		ollama = await OllamaTestServer.start({ latencyMs: 5, tokenIntervalMs: 1, embeddingDimension: 64 });
		platform = await startPlatform({ ai: { ollamaHost: ollama.url, parallel: 2 }, api: { rateLimitPerMinute: 10_000 } });
		admin = await platform.client.signUp("root");
		member = await platform.client.signUp("mia");
		await until(async () => (await platform.client.get<{ items: unknown[] }>("/api/v1/ai/hosts", admin.accessToken)).body.items?.length > 0, "the host reports");
	});
	afterEach(() => ollama.reset());
	afterAll(async () => {
		await platform.broker.stop();
		await ollama.stop();
	});

	it("answers a chat with the message, the model, the host that answered and the tokens used", async () => {
		const answer = await platform.client.post<AiChatAnswer>("/api/v1/ai/chat", ASK, member.accessToken);

		expect(answer.status).toBe(200);
		expect(answer.body).toMatchObject({
			message: { role: "assistant", content: expect.stringMatching(/\w/) },
			model: "llama3.2",
			host: platform.broker.nodeID,
			usage: { promptTokens: expect.any(Number), outputTokens: expect.any(Number) },
		});
	});

	it("streams the same answer token by token as NDJSON, with the usage on the last line", async () => {
		const whole = (await platform.client.post<AiChatAnswer>("/api/v1/ai/chat", ASK, member.accessToken)).body.message.content;

		const { contentType, lines } = await streamed(platform, member.accessToken, { ...ASK, stream: true });

		expect(contentType).toContain("application/x-ndjson");
		expect(lines.length).toBeGreaterThan(2);
		expect(lines.slice(0, -1).every((line) => !line.done)).toBe(true);
		expect(lines.at(-1)).toMatchObject({ done: true, usage: { outputTokens: expect.any(Number) } });
		expect(lines.map((line) => line.delta).join("")).toBe(whole);
	});

	it("answers a deterministic question (temperature 0) from its cache the second time", async () => {
		const question = { ...ASK, options: { temperature: 0 } };
		const first = await platform.client.post<AiChatAnswer>("/api/v1/ai/chat", question, member.accessToken);
		const asked = ollama.requestCount({ path: "/api/chat" });

		const second = await platform.client.post<AiChatAnswer>("/api/v1/ai/chat", question, member.accessToken);

		expect(second.body.message).toEqual(first.body.message);
		expect(ollama.requestCount({ path: "/api/chat" })).toBe(asked);
	});

	it("embeds a batch, one vector per text in order, and never asks the host twice for the same text", async () => {
		const first = await platform.broker.call<AiEmbedAnswer, object>("ai.embed", { input: ["ants build nests", "bees make honey"] });
		const asked = ollama.requestCount({ path: "/api/embed" });

		const again = await platform.broker.call<AiEmbedAnswer, object>("ai.embed", { input: ["bees make honey", "ants build nests"] });
		const mixed = await platform.broker.call<AiEmbedAnswer, object>("ai.embed", { input: ["ants build nests", "a new text"] });

		expect(first.embeddings).toHaveLength(2);
		expect(first.embeddings[0]).toHaveLength(64);
		expect(again.embeddings).toEqual([first.embeddings[1], first.embeddings[0]]);
		expect(ollama.requestCount({ path: "/api/embed" })).toBe(asked + 1);
		expect((ollama.lastBody("/api/embed") as { input: string[] }).input).toEqual(["a new text"]);
		expect(mixed.embeddings[0]).toEqual(first.embeddings[0]);
	});

	describe("classify", () => {
		const schema: ClassifySchema = {
			type: "object",
			properties: { category: { type: "string", enum: ["bug", "feature", "question"] }, priority: { type: "string", enum: ["urgent", "high", "low"] }, confidence: { type: "number", minimum: 0, maximum: 1 } },
			required: ["category", "priority", "confidence"],
		};
		const classify = (text: string) => platform.broker.call<AiClassifyAnswer, object>("ai.classify", { text, instruction: "Triage this task", schema });

		it("answers JSON that fits the schema", async () => {
			const { result } = await classify("The login page crashes on submit");

			expect(["bug", "feature", "question"]).toContain(result.category);
			expect(typeof result.confidence).toBe("number");
		});

		it("asks once more when the first answer does not fit, and fails clearly when the second does not either", async () => {
			ollama.invalidJsonNext(1);
			await expect(classify("Second attempt works")).resolves.toMatchObject({ result: { category: expect.any(String) } });

			ollama.invalidJsonNext(2);
			await expect(classify("Both attempts broken")).rejects.toMatchObject({ code: 502, type: "AI_INVALID_OUTPUT" });
		});
	});

	it("answers 404 AI_MODEL_NOT_FOUND, naming the model, for a model no host has", async () => {
		const answer = await platform.client.post<ErrorBody>("/api/v1/ai/chat", { ...ASK, model: "mistral" }, admin.accessToken);

		expect(answer.status).toBe(404);
		expect(answer.body).toMatchObject({ name: "ModelNotFoundError", type: "AI_MODEL_NOT_FOUND", message: "No AI host has the model 'mistral'", data: { model: "mistral" } });
	});

	it("lists every model of every host and where each is loaded", async () => {
		await platform.client.post("/api/v1/ai/chat", ASK, member.accessToken);
		await until(async () => {
			const models = await platform.client.get<{ items: { name: string; loadedOn: string[] }[] }>("/api/v1/ai/models", member.accessToken);
			return models.body.items.some((model) => model.name === "llama3.2:latest" && model.loadedOn.length === 1);
		}, "the heartbeat reports llama3.2 loaded");
	});

	it("shows the hosts, their loaded models and GPU memory, to admins only", async () => {
		const hosts = await platform.client.get<{ items: { nodeID: string; healthy: boolean; loaded: { sizeVram: number }[] }[] }>("/api/v1/ai/hosts", admin.accessToken);
		const refused = await platform.client.get<ErrorBody>("/api/v1/ai/hosts", member.accessToken);

		expect(hosts.body.items).toEqual([expect.objectContaining({ nodeID: platform.broker.nodeID, healthy: true, parallel: 2 })]);
		expect(refused.status).toBe(403);
	});

	it("answers 503 with a reason while the host is down, and serves again once it is back", async () => {
		await ollama.down();
		await until(async () => (await platform.client.post("/api/v1/ai/chat", ASK, member.accessToken)).status === 503, "the host is seen down");
		const down = await platform.client.post<ErrorBody>("/api/v1/ai/chat", ASK, member.accessToken);

		await ollama.up();
		await until(async () => (await platform.client.post("/api/v1/ai/chat", ASK, member.accessToken)).status === 200, "the host is seen up");

		expect(down.body).toMatchObject({ code: 503, type: "AI_UNAVAILABLE", message: expect.stringContaining("No AI host") });
	});

	it("stops the inference on the host when the client goes away", async () => {
		ollama.tokenIntervalMs = 50;
		const controller = new AbortController();
		const res = await fetch(`${platform.client.baseUrl}/api/v1/ai/chat`, {
			method: "POST",
			headers: { "content-type": "application/json", authorization: `Bearer ${member.accessToken}` },
			body: JSON.stringify({ messages: [{ role: "user", content: "Tell me a long story about ants and their colonies" }], stream: true }),
			signal: controller.signal,
		});
		const reader = res.body!.getReader();
		await reader.read();

		controller.abort();

		await until(() => ollama.abortedCount > 0, "the host sees the request aborted");
		await until(() => ollama.inFlight === 0, "the slot is free again");
	});

	describe("limits set per role by admins", () => {
		afterEach(async () => {
			await platform.client.request("PUT", "/api/v1/ai/policy", { body: { role: "member", models: null, requestsPerMinute: 30, maxQueued: 10 }, token: admin.accessToken });
		});

		it("refuses a model the role may not use, and only admins may change the policy", async () => {
			const set = await platform.client.request("PUT", "/api/v1/ai/policy", { body: { role: "member", models: ["llama3.2"], requestsPerMinute: 30, maxQueued: 10 }, token: admin.accessToken });
			const byMember = await platform.client.request("PUT", "/api/v1/ai/policy", { body: { role: "member", models: null, requestsPerMinute: 99, maxQueued: 10 }, token: member.accessToken });

			const other = await platform.client.post<ErrorBody>("/api/v1/ai/chat", { ...ASK, model: "qwen2.5:0.5b" }, member.accessToken);
			const allowed = await platform.client.post("/api/v1/ai/chat", ASK, member.accessToken);

			expect(set.status).toBe(200);
			expect(byMember.status).toBe(403);
			expect(other.status).toBe(403);
			expect(other.body.type).toBe("AI_MODEL_NOT_ALLOWED");
			expect(allowed.status).toBe(200);
		});

		it("refuses a user past the role's requests per minute with 429 and Retry-After", async () => {
			const rationed = await platform.client.signUp("rationed");
			await platform.client.request("PUT", "/api/v1/ai/policy", { body: { role: "member", models: null, requestsPerMinute: 2, maxQueued: 10 }, token: admin.accessToken });

			const statuses = [];
			for (let i = 0; i < 3; i++) statuses.push((await platform.client.post<ErrorBody>("/api/v1/ai/chat", { messages: [{ role: "user", content: `q${i}` }] }, rationed.accessToken)).status);
			const refused = await platform.client.post<ErrorBody>("/api/v1/ai/chat", ASK, rationed.accessToken);

			expect(statuses).toEqual([200, 200, 429]);
			expect(refused.body.type).toBe("AI_RATE_LIMITED");
			expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
		});

		it("refuses a user with too many requests waiting with 429", async () => {
			const eager = await platform.client.signUp("eager");
			await platform.client.request("PUT", "/api/v1/ai/policy", { body: { role: "member", models: null, requestsPerMinute: 100, maxQueued: 1 }, token: admin.accessToken });
			ollama.latencyMs = 300;

			const answers = await Promise.all(
				Array.from({ length: 5 }, (_, i) => platform.client.post<ErrorBody>("/api/v1/ai/chat", { messages: [{ role: "user", content: `burst ${i}` }] }, eager.accessToken)),
			);

			expect(answers.filter((answer) => answer.status === 200)).toHaveLength(3);
			expect(answers.filter((answer) => answer.status === 429).map((answer) => answer.body.type)).toEqual(["AI_QUEUE_FULL", "AI_QUEUE_FULL"]);
		});
	});

	it("pulls a model for an admin, streaming the progress, and lists it afterwards", async () => {
		const res = await fetch(`${platform.client.baseUrl}/api/v1/ai/pull`, {
			method: "POST",
			headers: { "content-type": "application/json", authorization: `Bearer ${admin.accessToken}` },
			body: JSON.stringify({ model: "qwen2.5:0.5b" }),
		});
		const lines = (await res.text()).trim().split("\n").map((line) => JSON.parse(line) as { status: string; host: string });

		expect(lines.at(-1)).toMatchObject({ status: "success", host: platform.broker.nodeID });
		await until(async () => {
			const models = await platform.client.get<{ items: { name: string }[] }>("/api/v1/ai/models", admin.accessToken);
			return models.body.items.some((model) => model.name === "qwen2.5:0.5b");
		}, "the pulled model is listed", 3_000);
	});
});

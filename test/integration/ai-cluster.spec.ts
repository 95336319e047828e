import type { ActionSchema, ServiceBroker, ServiceSchema } from "moleculer";
import type { Socket } from "socket.io-client";
import { hostBoard } from "../../lib/ai/host-board";
import type { AiChatAnswer, AiHostStatus } from "../../types/ai";
import type { AiDeltaEvent, AiDoneEvent, ChannelView, MessageView } from "../../types/chat";
import type { AskAnswer, DocumentView } from "../../types/knowledge";
import type { PublicUser, SessionUser } from "../../types/users";
import { clearJetStreamNamespace, clearRedisNamespace, clusterBroker, TestDatabase, uniqueNamespace } from "../support/cluster";
import { describeIntegration } from "../support/integration";
import { knowledgeService } from "../support/knowledge";
import { OllamaTestServer } from "../support/ollama-server";
import { aiService, apiService, chatService, gatewayUrl, RestClient, usersService, type SignedInUser } from "../support/platform";
import { NodeProcess } from "../support/processes";
import { servers } from "../support/servers";
import { connectSocket } from "../support/sockets";
import { until } from "../support/waiting";

const HOSTS = ["ai-1", "ai-2", "ai-3"];
const LATENCY_MS = 40;


/** Runs `count` calls of `call`, `concurrency` at a time, in order of their index. */
async function inParallel<T>(count: number, concurrency: number, call: (index: number) => Promise<T>): Promise<T[]> {
	const results: T[] = new Array(count);
	let next = 0;
	await Promise.all(
		Array.from({ length: concurrency }, async () => {
			while (next < count) {
				const index = next++;
				results[index] = await call(index);
			}
		}),
	);
	return results;
}

interface ChatOutcome {
	status: number;
	host?: string;
	ms: number;
}

/** A non-streaming chat over REST, with a question of its own so no answer comes from a cache. */
async function ask(gateway: RestClient, token: string, question: string): Promise<ChatOutcome> {
	const started = Date.now();
	const res = await fetch(`${gateway.baseUrl}/api/v1/ai/chat`, {
		method: "POST",
		headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
		body: JSON.stringify({ messages: [{ role: "user", content: question }] }),
		// Longer than a dead node takes to be given up (heartbeat timeout) and its requests retried.
		signal: AbortSignal.timeout(30_000),
	});
	const body = (await res.json()) as Partial<AiChatAnswer>;
	return { status: res.status, host: body.host, ms: Date.now() - started };
}

function countBy(values: (string | undefined)[]): Record<string, number> {
	const counts: Record<string, number> = {};
	for (const value of values) if (value) counts[value] = (counts[value] ?? 0) + 1;
	return counts;
}

/** How many `ai.chat` requests an ai node has handled, from its own /metrics. */
async function handledChats(healthUrl: string): Promise<number> {
	const metrics = await (await fetch(`${healthUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
	const line = metrics.split("\n").find((entry) => entry.startsWith("moleculer_request_total{") && entry.includes('action="ai.chat"'));
	return line ? Number(line.split(" ").at(-1)) : 0;
}

describeIntegration("the AI engine on three GPU hosts: ai nodes in their own processes, each bound to its own Ollama (NATS, Redis, MariaDB)", () => {
	const namespace = uniqueNamespace("it-ai");
	const usersDb = new TestDatabase(`${namespace}-users`);
	const chatDb = new TestDatabase(`${namespace}-chat`);
	const knowledgeDb = new TestDatabase(`${namespace}-knowledge`);
	const ollamas: OllamaTestServer[] = [];
	const aiNodes: NodeProcess[] = [];
	const healthUrls: string[] = [];
	const sockets: Socket[] = [];
	let nodes: ServiceBroker[] = [];
	let gatewayA: RestClient;
	let gatewayB: RestClient;
	let admin: SignedInUser;
	let amy: SignedInUser;
	let bob: SignedInUser;

	const hosts = async () => (await gatewayA.get<{ items: AiHostStatus[] }>("/api/v1/ai/hosts", admin.accessToken)).body.items ?? [];
	const healthyHosts = async () => (await hosts()).filter((host) => host.healthy).map((host) => host.nodeID).sort();

	async function startAiNode(index: number): Promise<void> {
		const { healthPort } = await aiNodes[index].start();
		healthUrls[index] = `http://127.0.0.1:${healthPort}`;
	}

	beforeAll(async () => {
		await Promise.all([usersDb.create(), chatDb.create(), knowledgeDb.create()]);
		for (let i = 0; i < HOSTS.length; i++) {
			ollamas.push(await OllamaTestServer.start({ latencyMs: LATENCY_MS, tokenIntervalMs: 2, parallel: 4, embeddingDimension: 256 }));
			aiNodes.push(
				new NodeProcess(HOSTS[i], {
					NAMESPACE: namespace,
					TRANSPORTER: servers.nats,
					REDIS_URL: servers.redis,
					JWT_SECRET: process.env.JWT_SECRET!,
					DATA_KEY: process.env.DATA_KEY!,
					SERVICES: "ai",
					NODE_ID: HOSTS[i],
					HEALTH_PORT: "0",
					OLLAMA_HOST: ollamas[i].url,
					AI_PARALLEL: "2",
					AI_HEARTBEAT_MS: "250",
					AI_CHAT_MODEL: "llama3.2",
					AI_EMBED_MODEL: "nomic-embed-text",
				}),
			);
		}
		nodes = [
			clusterBroker(namespace, "users-1", [usersService({ databaseUri: usersDb.uri })]),
			clusterBroker(namespace, "chat-1", [chatService({ databaseUri: chatDb.uri })]),
			clusterBroker(namespace, "knowledge-1", [knowledgeService({ databaseUri: knowledgeDb.uri, redisUrl: servers.redis, indexChat: false })]),
			clusterBroker(namespace, "gateway-a", [apiService({ redisUrl: servers.redis, rateLimitPerMinute: 100_000 })]),
			clusterBroker(namespace, "gateway-b", [apiService({ redisUrl: servers.redis, rateLimitPerMinute: 100_000 })]),
		];
		await Promise.all([...nodes.map((node) => node.start()), ...HOSTS.map((_, i) => startAiNode(i))]);
		await Promise.all(nodes.slice(3).map((node) => node.waitForServices(["users", "chat", "knowledge", "ai"], 20_000)));
		gatewayA = new RestClient(gatewayUrl(nodes[3]));
		gatewayB = new RestClient(gatewayUrl(nodes[4]));
		admin = await gatewayA.signUp("root");
		amy = await gatewayA.signUp("amy");
		bob = await gatewayA.signUp("bob");
		// Members may queue a hundred requests (the fairness test needs it) and send as many as the tests do.
		const policy = await gatewayA.put("/api/v1/ai/policy", { role: "member", models: null, requestsPerMinute: 10_000, maxQueued: 200 }, admin.accessToken);
		expect(policy.status).toBe(200);
		await until(async () => (await healthyHosts()).length === 3, "all three hosts report healthy", 15_000);
	}, 90_000);

	afterAll(async () => {
		for (const socket of sockets) socket.close();
		await Promise.all(aiNodes.map((node) => node.stop()));
		await Promise.all(nodes.map((node) => node.stop()));
		await Promise.all(ollamas.map((ollama) => ollama.stop()));
		await Promise.all([usersDb.drop(), chatDb.drop(), knowledgeDb.drop()]);
		await Promise.all([clearRedisNamespace(namespace), clearJetStreamNamespace(namespace)]);
	}, 60_000);

	afterEach(() => {
		for (const ollama of ollamas) ollama.latencyMs = LATENCY_MS;
	});

	it("spreads requests within ±20% of even across the hosts under round robin", async () => {
		const outcomes = await inParallel(90, 6, (i) => ask(i % 2 ? gatewayA : gatewayB, amy.accessToken, `spread question ${i}`));

		expect(outcomes.filter((outcome) => outcome.status !== 200)).toEqual([]);
		const perHost = countBy(outcomes.map((outcome) => outcome.host));
		expect(Object.keys(perHost).sort()).toEqual(HOSTS);
		for (const host of HOSTS) {
			expect(perHost[host]).toBeGreaterThanOrEqual(24);
			expect(perHost[host]).toBeLessThanOrEqual(36);
		}
	});

	it("streams an @ai answer to a socket on another gateway, then stores it as the assistant's reply", async () => {
		const channel = (await gatewayA.post<{ channel: ChannelView }>("/api/v1/channels", { name: "colony", type: "public" }, amy.accessToken)).body.channel;
		await gatewayB.post(`/api/v1/channels/${channel.id}/join`, {}, bob.accessToken);
		const socket = await connectSocket(gatewayB.baseUrl, bob.accessToken);
		sockets.push(socket);
		const deltas: AiDeltaEvent[] = [];
		socket.on("ai.delta", (delta: AiDeltaEvent) => deltas.push(delta));
		const done = new Promise<AiDoneEvent>((resolve) => socket.once("ai.done", resolve));

		const question = (await gatewayA.post<{ message: MessageView }>(`/api/v1/channels/${channel.id}/messages`, { text: "@ai what is a GPU?" }, amy.accessToken)).body.message;
		const answer = await done;

		expect(answer.replyTo).toBe(question.id);
		expect(deltas.length).toBeGreaterThan(1);
		expect(deltas.map((delta) => delta.delta).join("")).toBe(answer.message.text);
		const assistant = (await gatewayB.get<{ items: PublicUser[] }>("/api/v1/users", bob.accessToken)).body.items.find((user) => user.assistant)!;
		const history = (await gatewayB.get<{ items: MessageView[] }>(`/api/v1/channels/${channel.id}/messages`, bob.accessToken)).body.items;
		expect(history[0]).toMatchObject({ id: answer.message.id, userId: assistant.id, text: answer.message.text });
	});

	it("answers from documents with citations, and never cites a private channel the asker is not in", async () => {
		const secret = (await gatewayA.post<{ channel: ChannelView }>("/api/v1/channels", { name: "board", type: "private" }, amy.accessToken)).body.channel;
		const upload = (title: string, text: string, channelId?: number) =>
			gatewayA.post<{ document: DocumentView }>("/api/v1/knowledge/documents", { title, text, ...(channelId ? { channelId } : {}) }, amy.accessToken);
		const handbook = await upload("Handbook", "# Salaries\n\nSalary reviews happen every spring, in April, for every team.");
		const board = await upload("Board minutes", "# Salaries\n\nThe salary review budget for April is frozen until the merger closes.", secret.id);
		expect([handbook.status, board.status]).toEqual([201, 201]);

		const forBob = await gatewayB.post<AskAnswer>("/api/v1/ai/ask", { question: "When are salary reviews in April?" }, bob.accessToken);
		const forAmy = await gatewayB.post<AskAnswer>("/api/v1/ai/ask", { question: "When are salary reviews in April?" }, amy.accessToken);

		expect(forBob.status).toBe(200);
		expect(forBob.body.citations.length).toBeGreaterThan(0);
		expect(forBob.body.citations.map((citation) => citation.documentId)).toEqual(forBob.body.citations.map(() => handbook.body.document.id));
		expect(JSON.stringify(forBob.body)).not.toMatch(/merger|frozen/);
		expect(forAmy.body.citations.map((citation) => citation.documentId)).toContain(board.body.document.id);
		expect(forAmy.body.citations.every((citation) => citation.chunk.length > 0 && citation.title)).toBe(true);
	});

	it("serves a user with one request after at most one request's time per host, behind another user's hundred queued", async () => {
		const latency = 300;
		for (const ollama of ollamas) ollama.latencyMs = latency;
		const flood = inParallel(100, 100, (i) => ask(gatewayA, amy.accessToken, `flood ${i}`));
		// The hundred are queued on the hosts before the one arrives.
		await new Promise((resolve) => setTimeout(resolve, 200));
		const single = await ask(gatewayB, bob.accessToken, "just one question");
		const flooded = await flood;

		expect(single.status).toBe(200);
		expect(flooded.filter((outcome) => outcome.status !== 200)).toEqual([]);
		// Three hosts of two slots need about five seconds for the hundred: they were saturated.
		expect(Math.max(...flooded.map((outcome) => outcome.ms))).toBeGreaterThan(3_000);
		// A slot frees within one request's time on its host; then its own request runs. First come, first
		// served would have kept it behind a third of the hundred, about 5 s.
		expect(single.ms).toBeLessThan(2 * latency + 400);
	});

	it("skips a host whose Ollama stopped answering within 5 s, and uses it again once it answers", async () => {
		await ollamas[2].down("refuse");
		const downAt = Date.now();
		// Requests keep coming while the host is down: none of them fails, the ones that reached it were retried.
		const during = await inParallel(30, 3, (i) => ask(gatewayA, amy.accessToken, `while down ${i}`));
		expect(during.filter((outcome) => outcome.status !== 200)).toEqual([]);
		expect(during.every((outcome) => outcome.host !== "ai-3")).toBe(true);
		await until(async () => !(await healthyHosts()).includes("ai-3"), "ai-3 is reported unhealthy", 5_000);
		await new Promise((resolve) => setTimeout(resolve, Math.max(0, 5_000 - (Date.now() - downAt))));

		const handledBefore = await handledChats(healthUrls[2]);
		const after = await inParallel(30, 3, (i) => ask(gatewayB, amy.accessToken, `after 5 s ${i}`));
		expect(after.filter((outcome) => outcome.status !== 200)).toEqual([]);
		expect(await handledChats(healthUrls[2])).toBe(handledBefore);

		await ollamas[2].up();
		await until(async () => (await healthyHosts()).includes("ai-3"), "ai-3 is healthy again", 5_000);
		const recovered = await inParallel(30, 3, (i) => ask(gatewayA, amy.accessToken, `recovered ${i}`));
		expect(recovered.filter((outcome) => outcome.status !== 200)).toEqual([]);
		expect(countBy(recovered.map((outcome) => outcome.host))["ai-3"]).toBeGreaterThanOrEqual(5);
	});

	it("loses no request when an ai node is killed in the middle of a run", async () => {
		const outcomes = await inParallel(60, 6, async (i) => {
			if (i === 20) void aiNodes[1].kill();
			return ask(i % 2 ? gatewayA : gatewayB, amy.accessToken, `during the kill ${i}`);
		});

		expect(outcomes.filter((outcome) => outcome.status !== 200)).toEqual([]);
		expect(countBy(outcomes.slice(40).map((outcome) => outcome.host))["ai-2"]).toBeUndefined();

		await startAiNode(1);
		await until(async () => (await healthyHosts()).length === 3, "the restarted host reports healthy", 15_000);
	}, 60_000);
});

/** The ai service with the model-aware strategy on its inference actions, as AI_STRATEGY=ModelAware gives. */
function modelAware(schema: ServiceSchema): ServiceSchema {
	const actions = Object.fromEntries(
		Object.entries(schema.actions ?? {}).map(([name, action]) => [name, typeof action === "object" && (action as ActionSchema).strategy ? { ...action, strategy: "AiModelAware" } : action]),
	);
	return { ...schema, actions };
}

/** Inference is always done for someone: their policy, limits and fair share apply. */
const SOMEONE: SessionUser = {
	id: 7,
	username: "someone",
	displayName: "Someone",
	roles: ["admin"],
	permissions: ["ai:use"],
	tokenId: "token-7",
	tokenExpiresAt: Math.floor(Date.now() / 1000) + 3_600,
	sessionId: "session-7",
};

describeIntegration("the model-aware strategy across three ai nodes (NATS, Redis)", () => {
	const namespace = uniqueNamespace("it-ai-model");
	const ollamas: OllamaTestServer[] = [];
	let nodes: ServiceBroker[] = [];
	let caller: ServiceBroker;

	beforeAll(async () => {
		// Two hosts have the chat model in memory; the third has it installed but would have to load it.
		for (const loaded of [["llama3.2:latest"], ["llama3.2:latest"], []]) {
			ollamas.push(await OllamaTestServer.start({ latencyMs: 20, parallel: 4, loaded, loadLatencyMs: 500 }));
		}
		caller = clusterBroker(namespace, "gateway", [apiService({ redisUrl: servers.redis })]);
		nodes = [
			caller,
			...ollamas.map((ollama, i) => clusterBroker(namespace, HOSTS[i], [modelAware(aiService({ ollamaHost: ollama.url, parallel: 2, redisUrl: servers.redis }))])),
		];
		await Promise.all(nodes.map((node) => node.start()));
		await caller.waitForServices(["ai"], 15_000);
		// The gateway's own view of the hosts, from their heartbeats: what its strategy decides on.
		await until(() => HOSTS.every((host) => hostBoard(caller).status(host)?.healthy), "three hosts report to the gateway", 15_000);
	}, 60_000);

	afterAll(async () => {
		await Promise.all(nodes.map((node) => node.stop()));
		await Promise.all(ollamas.map((ollama) => ollama.stop()));
		await clearRedisNamespace(namespace);
	});

	it("sends at least 95% of requests to hosts that have the model loaded", async () => {
		// Fewer in flight than the loaded hosts' free slots: there is always a loaded host with room.
		const answers = await inParallel(100, 3, (i) =>
			caller.call<AiChatAnswer, object>("ai.chat", { messages: [{ role: "user", content: `model-aware question ${i}` }] }, { meta: { user: SOMEONE } }),
		);

		const perHost = countBy(answers.map((answer) => answer.host));
		expect((perHost["ai-1"] ?? 0) + (perHost["ai-2"] ?? 0)).toBeGreaterThanOrEqual(95);
		expect(ollamas[2].requestCount({ path: "/api/chat" })).toBeLessThanOrEqual(5);
	});
});

describeIntegration("an ai service beside others on one node, and another GPU host (NATS)", () => {
	const namespace = uniqueNamespace("it-ai-local");
	const ollamas: OllamaTestServer[] = [];
	let nodes: ServiceBroker[] = [];

	beforeAll(async () => {
		for (let i = 0; i < 2; i++) ollamas.push(await OllamaTestServer.start({ latencyMs: 10, parallel: 4 }));
		nodes = [
			// The gateway and a GPU host on one machine, as `SERVICES=api,ai` starts them.
			clusterBroker(namespace, "main", [apiService(), aiService({ ollamaHost: ollamas[0].url })]),
			clusterBroker(namespace, "gpu-2", [aiService({ ollamaHost: ollamas[1].url })]),
		];
		await Promise.all(nodes.map((node) => node.start()));
		await until(() => ["main", "gpu-2"].every((host) => hostBoard(nodes[0]).status(host)?.healthy), "both hosts report to the gateway", 15_000);
	}, 30_000);

	afterAll(async () => {
		await Promise.all(nodes.map((node) => node.stop()));
		await Promise.all(ollamas.map((ollama) => ollama.stop()));
		await clearRedisNamespace(namespace);
	});

	it("spreads that node's inference over both hosts instead of keeping it on its own", async () => {
		const answers = await inParallel(40, 4, (i) =>
			nodes[0].call<AiChatAnswer, object>("ai.chat", { messages: [{ role: "user", content: `local question ${i}` }] }, { meta: { user: SOMEONE } }),
		);

		const perHost = countBy(answers.map((answer) => answer.host));
		expect(perHost.main).toBeGreaterThanOrEqual(16);
		expect(perHost["gpu-2"]).toBeGreaterThanOrEqual(16);
	});
});

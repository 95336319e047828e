import Redis from "ioredis";
import type { ServiceBroker } from "moleculer";
import type { ChunkIndex } from "../../services/knowledge/chunk-index";
import type { ChannelView } from "../../types/chat";
import type { DocumentView, KnowledgeHit } from "../../types/knowledge";
import type { SessionUser } from "../../types/users";
import { aiDouble } from "../support/ai-double";
import { clearJetStreamNamespace, clearRedisNamespace, clusterBroker, TestDatabase, uniqueNamespace } from "../support/cluster";
import { describeIntegration } from "../support/integration";
import { eventually, knowledgeService } from "../support/knowledge";
import { OllamaTestServer } from "../support/ollama-server";
import { chatService } from "../support/platform";
import { servers } from "../support/servers";

function member(id: number): SessionUser {
	return {
		id,
		username: `user${id}`,
		displayName: `User ${id}`,
		roles: ["member"],
		permissions: ["chat:read", "chat:write", "chat:channel:create", "ai:use", "knowledge:read", "knowledge:write"],
		tokenId: `token-${id}`,
		tokenExpiresAt: Math.floor(Date.now() / 1000) + 3_600,
		sessionId: `session-${id}`,
	};
}

describeIntegration("knowledge on two nodes (NATS, MariaDB, Redis)", () => {
	const namespace = uniqueNamespace("it-knowledge");
	const knowledgeDb = new TestDatabase(`${namespace}-knowledge`);
	const amy = member(1);
	const bob = member(2);
	let ollama: OllamaTestServer;
	let redis: Redis;
	let knowledgeA: ServiceBroker;
	let knowledgeB: ServiceBroker;
	let nodes: ServiceBroker[] = [];

	const chunkIndexOf = (node: ServiceBroker) => (node.getLocalService("knowledge") as unknown as { chunkIndex: ChunkIndex }).chunkIndex;
	const vectorKeys = () => redis.keys(`colony:${namespace}:knowledge:vector:*`);
	const search = async (node: ServiceBroker, user: SessionUser, q: string, fresh = false) =>
		(await node.call<{ items: KnowledgeHit[] }, object>("knowledge.search", { q, k: 5 }, { meta: { user, ...(fresh ? { $cache: false } : {}) } })).items;

	beforeAll(async () => {
		ollama = await OllamaTestServer.start();
		redis = new Redis(servers.redis);
		await knowledgeDb.create();
		const knowledge = knowledgeService({ databaseUri: knowledgeDb.uri, redisUrl: servers.redis });
		knowledgeA = clusterBroker(namespace, "knowledge-a", [knowledge]);
		knowledgeB = clusterBroker(namespace, "knowledge-b", [knowledge]);
		nodes = [
			clusterBroker(namespace, "chat-1", [chatService()]),
			clusterBroker(namespace, "ai-1", [aiDouble(ollama.url)]),
			knowledgeA,
			knowledgeB,
		];
		await Promise.all(nodes.map((node) => node.start()));
		await Promise.all([knowledgeA, knowledgeB].map((node) => node.waitForServices(["chat", "ai", "knowledge"], 15_000)));
	});

	afterAll(async () => {
		await Promise.all(nodes.map((node) => node.stop()));
		redis.disconnect();
		await ollama.stop();
		await knowledgeDb.drop();
		await Promise.all([clearRedisNamespace(namespace), clearJetStreamNamespace(namespace)]);
	});

	it("keeps every node's index current, mirrors the vectors in Redis, and shares the search cache", async () => {
		const { document } = await knowledgeA.call<{ document: DocumentView }, object>(
			"knowledge.addDocument",
			{ title: "Release train", text: "# Schedule\n\nThe release train leaves every second Tuesday at noon." },
			{ meta: { user: amy } },
		);
		await eventually(async () => expect(chunkIndexOf(knowledgeB).size).toBe(document.chunks), 10_000);
		expect((await search(knowledgeB, bob, "when does the release train leave"))[0]).toMatchObject({ documentId: document.id, section: "Schedule" });

		const keys = await vectorKeys();
		expect(keys).toHaveLength(document.chunks);
		const stored = await redis.hgetallBuffer(keys[0]);
		expect(stored.channel.toString()).toBe("none");
		expect(stored.vector.length).toBe(768 * 4);

		const embeds = ollama.requestCount({ path: "/api/embed" });
		await search(knowledgeA, bob, "when does the release train leave");
		expect(ollama.requestCount({ path: "/api/embed" })).toBe(embeds);

		await knowledgeB.call("knowledge.removeDocument", { id: document.id }, { meta: { user: amy } });
		await eventually(async () => expect(chunkIndexOf(knowledgeA).size).toBe(0), 10_000);
		expect(await vectorKeys()).toHaveLength(0);
	});

	it("indexes chat messages on whichever node gets the event, for the channel's readers only", async () => {
		const { channel } = await knowledgeA.call<{ channel: ChannelView }, object>("chat.createChannel", { name: "ops", type: "private" }, { meta: { user: amy } });
		await knowledgeA.call("chat.send", { channelId: channel.id, text: "The database failover drill is on Thursday" }, { meta: { user: amy } });
		for (const node of [knowledgeA, knowledgeB]) {
			await eventually(async () => expect((await search(node, amy, "database failover drill", true))[0]).toMatchObject({ channelId: channel.id, title: "#ops message" }), 10_000);
		}
		expect((await search(knowledgeB, bob, "database failover drill", true)).filter((hit) => hit.channelId === channel.id)).toHaveLength(0);
		const [key] = await vectorKeys();
		expect((await redis.hget(key, "channel")) ?? "").toBe(String(channel.id));
	});
});

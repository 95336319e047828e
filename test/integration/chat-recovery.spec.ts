import type { ServiceBroker } from "moleculer";
import { io, type Socket } from "socket.io-client";
import { WebSocketBridge, type MessageView } from "../../client";
import { clearJetStreamNamespace, clearRedisNamespace, clusterBroker, TestDatabase, uniqueNamespace } from "../support/cluster";
import { describeIntegration } from "../support/integration";
import { apiService, gatewayUrl, RestClient, usersService } from "../support/platform";
import { expectServingHealth, NodeProcess } from "../support/processes";
import { servers } from "../support/servers";

const PRESENCE_TTL_MS = 1_500;

async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs: number): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	let value = await probe();
	while (!accept(value) && Date.now() < deadline) {
		await new Promise((r) => setTimeout(r, 100));
		value = await probe();
	}
	return value;
}

describeIntegration("crashes: a killed gateway and a killed chat node (separate processes over NATS)", () => {
	const namespace = uniqueNamespace("it-crash");
	const usersDb = new TestDatabase(`${namespace}-users`);
	const chatDb = new TestDatabase(`${namespace}-chat`);
	const sharedEnv = {
		NAMESPACE: namespace,
		TRANSPORTER: servers.nats,
		REDIS_URL: servers.redis,
		JWT_SECRET: process.env.JWT_SECRET!,
		DATA_KEY: process.env.DATA_KEY!,
	};
	const chatNode = new NodeProcess("chat node", {
		...sharedEnv,
		SERVICES: "chat",
		NODE_ID: "chat-1",
		CHAT_DB_URI: chatDb.uri,
		HEALTH_PORT: "0",
	});
	const gatewayB = new NodeProcess("gateway B", {
		...sharedEnv,
		SERVICES: "api",
		NODE_ID: "gateway-b",
		PORT: "0",
		PRESENCE_TTL_MS: String(PRESENCE_TTL_MS),
	});
	const sockets: Socket[] = [];
	const bridges: WebSocketBridge[] = [];
	let nodes: ServiceBroker[] = [];
	let gatewayA: RestClient;
	let gatewayBUrl: string;
	let chatHealthUrl: string;

	beforeAll(async () => {
		await Promise.all([usersDb.create(), chatDb.create()]);
		nodes = [
			clusterBroker(namespace, "users-1", [usersService({ databaseUri: usersDb.uri })]),
			clusterBroker(namespace, "gateway-a", [apiService({ redisUrl: servers.redis, presenceTtlMs: PRESENCE_TTL_MS })]),
		];
		await Promise.all(nodes.map((node) => node.start()));
		chatHealthUrl = `http://127.0.0.1:${(await chatNode.start()).healthPort}`;
		gatewayBUrl = `http://127.0.0.1:${(await gatewayB.start()).port}`;
		await nodes[1].waitForServices(["users", "chat"], 15_000);
		gatewayA = new RestClient(gatewayUrl(nodes[1]));
	});

	afterAll(async () => {
		for (const socket of sockets) socket.close();
		for (const bridge of bridges) bridge.disconnect();
		await Promise.all([chatNode.stop(), gatewayB.stop()]);
		await Promise.all(nodes.map((node) => node.stop()));
		await Promise.all([usersDb.drop(), chatDb.drop()]);
		await Promise.all([clearRedisNamespace(namespace), clearJetStreamNamespace(namespace)]);
	});

	it("serves the chat node's own readiness and metrics on its health listener", async () => {
		await expectServingHealth(chatHealthUrl, "chat-1", "chat");
	});

	it("delivers every message exactly once when the chat node is killed and restarted while a client keeps sending", async () => {
		for (const name of ["sam", "rae"]) await gatewayA.register(name);
		const sam = await gatewayA.login("sam");
		const rae = await gatewayA.login("rae");
		const { body } = await gatewayA.post<{ channel: { id: number } }>("/api/v1/channels", { name: "ops", type: "public" }, sam.accessToken);
		const channelId = body.channel.id;
		await gatewayA.post(`/api/v1/channels/${channelId}/join`, {}, rae.accessToken);

		const quickRetry = { ackTimeoutMs: 2_000, reconnectionDelay: 200, reconnectionDelayMax: 1_000, transports: ["websocket"] as string[] };
		const sender = new WebSocketBridge(quickRetry);
		const receiver = new WebSocketBridge(quickRetry);
		bridges.push(sender, receiver);
		const received: MessageView[] = [];
		receiver.onMessage((message) => received.push(message));
		const rejected: string[] = [];
		sender.on("outbox.rejected", ({ item, error }) => rejected.push(`${item.text}: ${error.type}`));
		expect(await sender.connect(gatewayA.baseUrl, sam.accessToken)).toBe(true);
		expect(await receiver.connect(gatewayBUrl, rae.accessToken)).toBe(true);

		const texts = Array.from({ length: 30 }, (_, i) => `reading ${i + 1}`);
		const sends: Promise<unknown>[] = [];
		for (const [i, text] of texts.entries()) {
			if (i === 10) await chatNode.kill();
			if (i === 20) await chatNode.start();
			sends.push(sender.sendMessage({ channelId, text }).catch((err: unknown) => err));
			await new Promise((r) => setTimeout(r, 50));
		}
		await Promise.all(sends);

		const deadline = Date.now() + 20_000;
		while (received.length < texts.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
		await new Promise((r) => setTimeout(r, 500));
		// The restarted node announces its services one by one: in between, its actions are known but unserved.
		expect(rejected).toEqual([]);
		expect(received.map((message) => message.text)).toEqual(texts);
		expect(new Set(received.map((message) => message.id)).size).toBe(texts.length);

		const history = await gatewayA.get<{ items: MessageView[] }>(`/api/v1/channels/${channelId}/messages?limit=100`, rae.accessToken);
		expect(history.body.items.map((message) => message.text).reverse()).toEqual(texts);
	}, 60_000);

	it("shows the users of a gateway that crashed as offline once its presence lease runs out", async () => {
		const { body } = await gatewayA.register("pia");
		const pia = await gatewayA.login("pia");
		await gatewayA.register("quinn");
		const quinn = await gatewayA.login("quinn");
		// Presence goes to the people who share a channel with pia.
		const channel = await gatewayA.post<{ channel: { id: number } }>("/api/v1/channels", { name: "watch", type: "public" }, pia.accessToken);
		await gatewayA.post(`/api/v1/channels/${channel.body.channel.id}/join`, {}, quinn.accessToken);
		const socket = io(gatewayBUrl, { auth: { token: pia.accessToken }, reconnection: false, transports: ["websocket"] });
		sockets.push(socket);
		await new Promise<void>((resolve, reject) => {
			socket.once("connect", resolve);
			socket.once("connect_error", reject);
		});
		const statusOfPia = async () =>
			(await gatewayA.get<{ items: { status: string }[] }>(`/api/v1/presence?ids=${body.user.id}`, pia.accessToken)).body.items[0]
				.status;
		expect(await statusOfPia()).toBe("online");
		const watcher = io(gatewayA.baseUrl, { auth: { token: quinn.accessToken }, reconnection: false, transports: ["websocket"] });
		sockets.push(watcher);
		const announced: { userId: number; status: string }[] = [];
		watcher.on("presence", (change: { userId: number; status: string }) => announced.push(change));
		await new Promise<void>((resolve) => watcher.once("connect", () => resolve()));

		await gatewayB.kill();
		expect(await eventually(statusOfPia, (status) => status === "offline", PRESENCE_TTL_MS * 4)).toBe("offline");
		// Nobody released pia's lease: gateway A notices it ran out and tells the sockets, once.
		const offline = () => announced.filter((change) => change.userId === body.user.id && change.status === "offline");
		await eventually(async () => offline().length, (count) => count > 0, PRESENCE_TTL_MS * 4);
		await new Promise((r) => setTimeout(r, PRESENCE_TTL_MS));
		expect(offline()).toHaveLength(1);
	});
});

import type { ServiceBroker } from "moleculer";
import { io, type Socket } from "socket.io-client";
import { clearRedisNamespace, clusterBroker, TestDatabase, uniqueNamespace } from "../support/cluster";
import { describeIntegration } from "../support/integration";
import { apiService, gatewayUrl, RestClient, usersService } from "../support/platform";
import { NodeProcess } from "../support/processes";
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
	const chatNode = new NodeProcess("chat node", { ...sharedEnv, SERVICES: "chat", NODE_ID: "chat-1", CHAT_DB_URI: chatDb.uri });
	const gatewayB = new NodeProcess("gateway B", {
		...sharedEnv,
		SERVICES: "api",
		NODE_ID: "gateway-b",
		PORT: "0",
		PRESENCE_TTL_MS: String(PRESENCE_TTL_MS),
	});
	const sockets: Socket[] = [];
	let nodes: ServiceBroker[] = [];
	let gatewayA: RestClient;
	let gatewayBUrl: string;

	beforeAll(async () => {
		await Promise.all([usersDb.create(), chatDb.create()]);
		nodes = [
			clusterBroker(namespace, "users-1", [usersService({ databaseUri: usersDb.uri, redisUrl: servers.redis })]),
			clusterBroker(namespace, "gateway-a", [apiService({ redisUrl: servers.redis, presenceTtlMs: PRESENCE_TTL_MS })]),
		];
		await Promise.all(nodes.map((node) => node.start()));
		await chatNode.start();
		gatewayBUrl = `http://127.0.0.1:${(await gatewayB.start()).port}`;
		await nodes[1].waitForServices(["users", "chat"], 15_000);
		gatewayA = new RestClient(gatewayUrl(nodes[1]));
	});

	afterAll(async () => {
		for (const socket of sockets) socket.close();
		await Promise.all([chatNode.stop(), gatewayB.stop()]);
		await Promise.all(nodes.map((node) => node.stop()));
		await Promise.all([usersDb.drop(), chatDb.drop()]);
		await clearRedisNamespace(namespace);
	});

	it("shows the users of a gateway that crashed as offline once its presence lease runs out", async () => {
		const { body } = await gatewayA.register("pia");
		const pia = await gatewayA.login("pia");
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

		await gatewayB.kill();
		expect(await eventually(statusOfPia, (status) => status === "offline", PRESENCE_TTL_MS * 4)).toBe("offline");
	});
});

import type { ServiceBroker } from "moleculer";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { io, type Socket } from "socket.io-client";
import type { MessageView } from "../../client";
import { clearJetStreamNamespace, clearRedisNamespace, clusterBroker, TestDatabase, uniqueNamespace } from "../support/cluster";
import { describeIntegration } from "../support/integration";
import { PrivateNats } from "../support/nats-server";
import { NodeProcess } from "../support/processes";
import {
	apiService,
	chatService,
	gatewayUrl,
	RestClient,
	usersService,
	type ErrorBody,
	type HttpAnswer,
	type SignedInUser,
} from "../support/platform";
import { servers } from "../support/servers";
import { TcpProxy } from "../support/tcp-proxy";
import { until } from "../support/waiting";

describeIntegration("faults: NATS restarted under a cluster of users, chat and two gateways", () => {
	const namespace = uniqueNamespace("it-nats-restart");
	const usersDb = new TestDatabase(`${namespace}-users`);
	const chatDb = new TestDatabase(`${namespace}-chat`);
	let storeDir: string;
	const sockets: Socket[] = [];
	let nats: PrivateNats;
	let nodes: ServiceBroker[] = [];
	let gatewayA: RestClient;
	let gatewayB: RestClient;

	beforeAll(async () => {
		storeDir = mkdtempSync(join(tmpdir(), "colony-nats-"));
		nats = await PrivateNats.start({ storeDir });
		await Promise.all([usersDb.create(), chatDb.create()]);
		const env = { TRANSPORTER: nats.url("nats") };
		nodes = [
			clusterBroker(namespace, "users-1", [usersService({ databaseUri: usersDb.uri })], env),
			clusterBroker(namespace, "chat-1", [chatService({ databaseUri: chatDb.uri })], env),
			clusterBroker(namespace, "gateway-a", [apiService({ redisUrl: servers.redis, rateLimitPerMinute: 10_000 })], env),
			clusterBroker(namespace, "gateway-b", [apiService({ redisUrl: servers.redis, rateLimitPerMinute: 10_000 })], env),
		];
		await Promise.all(nodes.map((node) => node.start()));
		await Promise.all(nodes.slice(2).map((gateway) => gateway.waitForServices(["users", "chat"], 15_000)));
		gatewayA = new RestClient(gatewayUrl(nodes[2]));
		gatewayB = new RestClient(gatewayUrl(nodes[3]));
	});

	afterAll(async () => {
		for (const socket of sockets) socket.close();
		await Promise.all(nodes.map((node) => node.stop()));
		await nats?.stop();
		if (storeDir) rmSync(storeDir, { recursive: true, force: true });
		await Promise.all([usersDb.drop(), chatDb.drop(), clearRedisNamespace(namespace)]);
	});

	it("recovers within 10 s of NATS coming back: calls across nodes succeed and a message sent through A reaches a socket on B", async () => {
		const sam: SignedInUser = await gatewayA.signUp("sam");
		const rae: SignedInUser = await gatewayB.signUp("rae");
		const channelId = (await gatewayA.post<{ channel: { id: number } }>("/api/v1/channels", { name: "ops", type: "public" }, sam.accessToken)).body
			.channel.id;
		expect((await gatewayB.post(`/api/v1/channels/${channelId}/join`, {}, rae.accessToken)).status).toBe(200);
		const socket = io(gatewayB.baseUrl, { auth: { token: rae.accessToken }, transports: ["websocket"], reconnectionDelay: 200 });
		sockets.push(socket);
		const received: string[] = [];
		socket.on("chat.message", (message: MessageView) => received.push(message.text ?? ""));
		await until(() => socket.connected, "rae's socket on gateway B is connected");
		expect((await gatewayA.post(`/api/v1/channels/${channelId}/messages`, { text: "before" }, sam.accessToken)).status).toBe(201);
		await until(() => received.includes("before"), "the message sent before the outage reaches gateway B");

		await nats.stop();
		// Long enough for every node to see the connection gone and requests across nodes to fail.
		await new Promise((resolve) => setTimeout(resolve, 3_000));
		expect((await gatewayB.post("/api/v1/auth/login", { username: "sam", password: "correct horse battery" })).status).toBeGreaterThanOrEqual(500);
		await nats.restart();
		const restarted = Date.now();

		// B's REST call crosses to the users node, A's to the chat node, and the message fans out to B's socket.
		await until(
			async () => (await gatewayB.post("/api/v1/auth/login", { username: "sam", password: "correct horse battery" })).status === 200,
			"gateway B signs in through the users node again",
			10_000,
		);
		let sent = 0;
		await until(
			async () => {
				const text = `after ${++sent}`;
				const answer = await gatewayA.post(`/api/v1/channels/${channelId}/messages`, { text, clientMsgId: `after-${sent}` }, sam.accessToken);
				if (answer.status !== 201) return false;
				const deadline = Date.now() + 1_000;
				while (!received.includes(text) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
				return received.includes(text);
			},
			"a message sent through gateway A reaches the socket on gateway B",
			Math.max(0, 10_000 - (Date.now() - restarted)),
		);
		expect(Date.now() - restarted).toBeLessThan(10_000);
		expect((await gatewayA.get("/api/v1/users/me", rae.accessToken)).status).toBe(200);
	}, 60_000);
});

describeIntegration("faults: the users node's MariaDB unreachable, then back", () => {
	const namespace = uniqueNamespace("it-db-cut");
	const database = new TestDatabase(namespace);
	const mariadb = new URL(servers.mariadb);
	const proxy = new TcpProxy(mariadb.hostname, Number(mariadb.port || 3306));
	let nodes: ServiceBroker[] = [];
	let gateway: RestClient;

	const login = (username: string) => gateway.post<ErrorBody>("/api/v1/auth/login", { username, password: "correct horse battery" });

	beforeAll(async () => {
		await database.create();
		const port = await proxy.start();
		const throughProxy = new URL(database.uri);
		throughProxy.host = `127.0.0.1:${port}`;
		nodes = [
			clusterBroker(namespace, "users-1", [usersService({ databaseUri: throughProxy.toString() })]),
			clusterBroker(namespace, "gateway", [apiService({ redisUrl: servers.redis, rateLimitPerMinute: 10_000 })]),
		];
		await Promise.all(nodes.map((node) => node.start()));
		await nodes[1].waitForServices(["users"], 15_000);
		gateway = new RestClient(gatewayUrl(nodes[1]));
	});

	afterAll(async () => {
		await proxy.restore();
		await Promise.all(nodes.map((node) => node.stop()));
		await proxy.stop();
		await database.drop();
		await Promise.all([clearRedisNamespace(namespace), clearJetStreamNamespace(namespace)]);
	});

	it("answers 503 DATABASE_UNAVAILABLE with a reason while the database is away, and serves again once it is back", async () => {
		await gateway.signUp("ann");
		expect((await login("ann")).status).toBe(200);

		await proxy.cut();
		const started = Date.now();
		const refusedLogin = await login("ann");
		const refusedSignUp = await gateway.register("bob");
		const elapsed = Date.now() - started;

		for (const answer of [refusedLogin, refusedSignUp]) {
			expect(answer.status).toBe(503);
			expect(answer.body).toMatchObject({ code: 503, type: "DATABASE_UNAVAILABLE", message: expect.stringMatching(/users database/) });
		}
		// Well within the request timeout (10 s): the node does not wait for a database that refuses connections.
		expect(elapsed).toBeLessThan(5_000);

		await proxy.restore();
		await until(async () => (await login("ann")).status === 200, "signing in works again", 10_000);
		expect((await gateway.register("bob")).status).toBe(201);
		expect((await login("bob")).status).toBe(200);
	}, 40_000);
});

describeIntegration("faults: the chat node's MariaDB hangs (connections open, nothing answered), then answers again", () => {
	const namespace = uniqueNamespace("it-db-hang");
	const database = new TestDatabase(namespace);
	const mariadb = new URL(servers.mariadb);
	const proxy = new TcpProxy(mariadb.hostname, Number(mariadb.port || 3306));
	let node: ServiceBroker;
	let gateway: RestClient;

	beforeAll(async () => {
		await database.create();
		const port = await proxy.start();
		const throughProxy = new URL(database.uri);
		throughProxy.host = `127.0.0.1:${port}`;
		node = clusterBroker(namespace, "node", [
			usersService(),
			chatService({ databaseUri: throughProxy.toString() }),
			apiService({ redisUrl: servers.redis, rateLimitPerMinute: 10_000 }),
		]);
		await node.start();
		gateway = new RestClient(gatewayUrl(node));
	});

	afterAll(async () => {
		proxy.thaw();
		await node.stop();
		await proxy.stop();
		await database.drop();
		await Promise.all([clearRedisNamespace(namespace), clearJetStreamNamespace(namespace)]);
	});

	it("answers the requests that find no connection 503 before the request timeout, never 500, and serves again after", async () => {
		const ann = await gateway.signUp("ann");
		const { body } = await gateway.post<{ channel: { id: number } }>("/api/v1/channels", { name: "ops", type: "public" }, ann.accessToken);
		const history = `/api/v1/channels/${body.channel.id}/messages`;
		expect((await gateway.get(history, ann.accessToken)).status).toBe(200);

		proxy.freeze();
		// More than the pool's 20 connections: some requests wait on a connection stuck in the hung database.
		const answers = await Promise.all(
			Array.from({ length: 30 }, async () => {
				const started = Date.now();
				// Longer than the gateway's 10 s request timeout, to see its answer.
				const answer = await gateway.request<ErrorBody>("GET", history, { token: ann.accessToken, timeoutMs: 20_000 });
				return { status: answer.status, type: answer.body.type, ms: Date.now() - started };
			}),
		);
		proxy.thaw();

		// Nothing is a 500. Those caught on a connection the database stopped answering cannot know their outcome: they
		// end at the 10 s request timeout (504, or 503 once the circuit breaker has opened). The rest are told at once
		// why, well before that timeout.
		expect(answers.filter(({ status }) => status !== 503 && status !== 504)).toEqual([]);
		const toldWhy = answers.filter(({ type, ms }) => (type === "DATABASE_BUSY" || type === "DATABASE_UNAVAILABLE") && ms < 9_000);
		expect(toldWhy.length).toBeGreaterThanOrEqual(10);
		await until(async () => (await gateway.get(history, ann.accessToken)).status === 200, "history answers again", 15_000);
	}, 60_000);
});

interface Send {
	gateway: "A" | "B";
	clientMsgId: string;
	startedAt: number;
	endedAt: number;
	acknowledged: boolean;
}

describeIntegration("faults: one of two gateway processes killed (SIGKILL) under a stream of chat sends", () => {
	const namespace = uniqueNamespace("it-gw-kill");
	const usersDb = new TestDatabase(`${namespace}-users`);
	const chatDb = new TestDatabase(`${namespace}-chat`);
	const gatewayEnv = (nodeID: string) => ({
		NAMESPACE: namespace,
		TRANSPORTER: servers.nats,
		REDIS_URL: servers.redis,
		JWT_SECRET: process.env.JWT_SECRET!,
		DATA_KEY: process.env.DATA_KEY!,
		SERVICES: "api",
		NODE_ID: nodeID,
		PORT: "0",
		HOST: "127.0.0.1",
		RATE_LIMIT_PER_MIN: "100000",
	});
	const processes = { A: new NodeProcess("gateway A", gatewayEnv("gateway-a")), B: new NodeProcess("gateway B", gatewayEnv("gateway-b")) };
	let services: ServiceBroker;
	const gateways: Record<"A" | "B", RestClient> = {} as Record<"A" | "B", RestClient>;

	beforeAll(async () => {
		await Promise.all([usersDb.create(), chatDb.create()]);
		services = clusterBroker(namespace, "users-chat", [usersService({ databaseUri: usersDb.uri }), chatService({ databaseUri: chatDb.uri })]);
		await services.start();
		for (const name of ["A", "B"] as const) {
			gateways[name] = new RestClient(`http://127.0.0.1:${(await processes[name].start()).port}`);
		}
		for (const name of ["A", "B"] as const) {
			await until(async () => (await gateways[name].get("/health/ready")).status === 200, `gateway ${name} is ready`, 15_000);
		}
	});

	afterAll(async () => {
		await Promise.all([processes.A.kill(), processes.B.kill()]);
		await services.stop();
		await Promise.all([usersDb.drop(), chatDb.drop(), clearRedisNamespace(namespace), clearJetStreamNamespace(namespace)]);
	});

	it("stores every acknowledged send exactly once; only requests in flight on the killed gateway fail", async () => {
		const sam = await gateways.A.signUp("sam");
		const channelId = (await gateways.A.post<{ channel: { id: number } }>("/api/v1/channels", { name: "load", type: "public" }, sam.accessToken))
			.body.channel.id;
		const sends: Send[] = [];
		let killedAt = Infinity;
		let stopAt = Infinity;
		const stream = async (gateway: "A" | "B", lane: number) => {
			for (let i = 0; Date.now() < Math.min(stopAt, gateway === "B" ? killedAt : Infinity); i++) {
				const clientMsgId = `${gateway}-${lane}-${i}`;
				const startedAt = Date.now();
				const answer = await gateways[gateway]
					.post(`/api/v1/channels/${channelId}/messages`, { text: clientMsgId, clientMsgId }, sam.accessToken)
					.catch(() => undefined);
				sends.push({ gateway, clientMsgId, startedAt, endedAt: Date.now(), acknowledged: answer?.status === 201 });
				await new Promise((resolve) => setTimeout(resolve, 20));
			}
		};
		const streams = Promise.all([stream("A", 0), stream("A", 1), stream("B", 0), stream("B", 1)]);
		await new Promise((resolve) => setTimeout(resolve, 1_000));
		killedAt = Date.now();
		await processes.B.kill();
		await new Promise((resolve) => setTimeout(resolve, 1_000));
		stopAt = Date.now();
		await streams;

		const stored: string[] = [];
		for (let before: string | null = ""; before !== null; ) {
			const page: HttpAnswer<{ items: MessageView[]; nextCursor: string | null }> = await gateways.A.get<{ items: MessageView[]; nextCursor: string | null }>(
				`/api/v1/channels/${channelId}/messages?limit=100${before ? `&before=${before}` : ""}`,
				sam.accessToken,
			);
			expect(page.status).toBe(200);
			stored.push(...page.body.items.map((message) => message.text ?? ""));
			before = page.body.nextCursor;
		}
		const copies = (clientMsgId: string) => stored.filter((text) => text === clientMsgId).length;
		const acknowledged = sends.filter((send) => send.acknowledged);
		const failed = sends.filter((send) => !send.acknowledged);

		expect(acknowledged.filter((send) => send.gateway === "A").length).toBeGreaterThan(20);
		expect(acknowledged.filter((send) => send.gateway === "B").length).toBeGreaterThan(10);
		expect(acknowledged.filter((send) => copies(send.clientMsgId) !== 1)).toEqual([]);
		// A request in flight on the killed gateway may or may not have been stored, but never twice.
		expect(failed.filter((send) => copies(send.clientMsgId) > 1)).toEqual([]);
		expect(failed.filter((send) => send.gateway !== "B" || send.startedAt > killedAt || send.endedAt < killedAt)).toEqual([]);
		expect(new Set(stored).size).toBe(stored.length);
	}, 60_000);
});

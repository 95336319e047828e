import type { ServiceBroker } from "moleculer";
import type { Socket } from "socket.io-client";
import type { MessageView } from "../../types/chat";
import { clearJetStreamNamespace, clearRedisNamespace, clusterBroker, TestDatabase, uniqueNamespace } from "../support/cluster";
import { describeIntegration } from "../support/integration";
import { apiService, chatService, gatewayUrl, RestClient, usersService } from "../support/platform";
import { servers } from "../support/servers";
import { callAction as call, connectSocket as connect } from "../support/sockets";
import { until } from "../support/waiting";


describeIntegration("chat across two gateways and a chat node (NATS, MariaDB, Redis)", () => {
	const namespace = uniqueNamespace("it-chat");
	const usersDb = new TestDatabase(`${namespace}-users`);
	const chatDb = new TestDatabase(`${namespace}-chat`);
	const sockets: Socket[] = [];
	let nodes: ServiceBroker[] = [];
	let gatewayA: RestClient;
	let gatewayB: RestClient;
	let tokens: Record<string, string>;

	beforeAll(async () => {
		await Promise.all([usersDb.create(), chatDb.create()]);
		nodes = [
			clusterBroker(namespace, "users-1", [usersService({ databaseUri: usersDb.uri })]),
			clusterBroker(namespace, "chat-1", [chatService({ databaseUri: chatDb.uri })]),
			clusterBroker(namespace, "gateway-a", [apiService({ redisUrl: servers.redis })]),
			clusterBroker(namespace, "gateway-b", [apiService({ redisUrl: servers.redis })]),
		];
		await Promise.all(nodes.map((node) => node.start()));
		await Promise.all(nodes.slice(2).map((node) => node.waitForServices(["users", "chat"], 15_000)));
		gatewayA = new RestClient(gatewayUrl(nodes[2]));
		gatewayB = new RestClient(gatewayUrl(nodes[3]));
		tokens = {};
		for (const name of ["owner", "ann", "ben", "outsider"]) {
			await gatewayA.register(name);
			tokens[name] = (await gatewayA.login(name)).accessToken;
		}
	});

	afterAll(async () => {
		for (const socket of sockets) socket.close();
		await Promise.all(nodes.map((node) => node.stop()));
		await Promise.all([usersDb.drop(), chatDb.drop()]);
		await Promise.all([clearRedisNamespace(namespace), clearJetStreamNamespace(namespace)]);
	});

	it("delivers a message sent through gateway A to sockets on A and on B exactly once, in order", async () => {
		const { body } = await gatewayA.post<{ channel: { id: number } }>("/api/v1/channels", { name: "general", type: "public" }, tokens.owner);
		const channelId = body.channel.id;
		await gatewayB.post(`/api/v1/channels/${channelId}/join`, {}, tokens.ann);
		await gatewayA.post(`/api/v1/channels/${channelId}/join`, {}, tokens.ben);

		const received: Record<string, string[]> = { ownerOnA: [], annOnB: [], benOnA: [], benOnB: [] };
		const listeners: [string, string, string][] = [
			["ownerOnA", gatewayA.baseUrl, tokens.owner],
			["annOnB", gatewayB.baseUrl, tokens.ann],
			["benOnA", gatewayA.baseUrl, tokens.ben],
			["benOnB", gatewayB.baseUrl, tokens.ben],
		];
		for (const [name, url, token] of listeners) {
			const socket = await connect(url, token);
			sockets.push(socket);
			socket.on("chat.message", (message: MessageView) => received[name].push(message.text ?? ""));
		}

		const owner = sockets[0];
		const texts = Array.from({ length: 20 }, (_, i) => `message ${i + 1}`);
		// Half over REST on A, half over the socket connected to A, interleaved.
		for (const [i, text] of texts.entries()) {
			if (i % 2 === 0) await gatewayA.post(`/api/v1/channels/${channelId}/messages`, { text }, tokens.owner);
			else await call(owner, "chat.send", { channelId, text });
		}

		await until(() => Object.values(received).every((list) => list.length >= texts.length), "every socket has all messages");
		await new Promise((r) => setTimeout(r, 300));
		for (const list of Object.values(received)) expect(list).toEqual(texts);
	});

	it("refuses a non-member of a private channel over REST and over the socket", async () => {
		const { body } = await gatewayA.post<{ channel: { id: number } }>("/api/v1/channels", { name: "secret", type: "private" }, tokens.owner);
		const channelId = body.channel.id;
		await gatewayA.post(`/api/v1/channels/${channelId}/messages`, { text: "the plan" }, tokens.owner);

		const history = await gatewayB.get(`/api/v1/channels/${channelId}/messages`, tokens.outsider);
		expect(history.status).toBe(403);
		expect(history.body).toMatchObject({ type: "NOT_A_MEMBER" });
		const post = await gatewayB.post(`/api/v1/channels/${channelId}/messages`, { text: "let me in" }, tokens.outsider);
		expect(post.status).toBe(403);
		const join = await gatewayB.post(`/api/v1/channels/${channelId}/join`, {}, tokens.outsider);
		expect(join.status).toBe(403);
		const channels = await gatewayB.get<{ items: { id: number }[] }>("/api/v1/channels", tokens.outsider);
		expect(channels.body.items.map((c) => c.id)).not.toContain(channelId);

		const socket = await connect(gatewayB.baseUrl, tokens.outsider);
		sockets.push(socket);
		const overheard: unknown[] = [];
		socket.on("chat.message", (message) => overheard.push(message));
		await expect(call(socket, "chat.history", { channelId })).rejects.toMatchObject({ code: 403, type: "NOT_A_MEMBER" });
		await expect(call(socket, "chat.send", { channelId, text: "hi" })).rejects.toMatchObject({ code: 403 });

		await gatewayA.post(`/api/v1/channels/${channelId}/messages`, { text: "still secret" }, tokens.owner);
		await new Promise((r) => setTimeout(r, 300));
		expect(overheard).toEqual([]);
	});

	it("keeps no readable message text in the chat database", async () => {
		const rows = await chatDb.rows("SELECT * FROM messages");
		expect(rows.length).toBeGreaterThanOrEqual(22);
		const dump = JSON.stringify(rows);
		for (const plaintext of ["message 1", "the plan", "still secret"]) expect(dump).not.toContain(plaintext);
		expect(rows.every((row) => typeof row.keyId === "string" && String(row.body).startsWith(`v1.${row.keyId}.`))).toBe(true);
	});

	it("drops on gateway B the sockets of a session that signed out through gateway A", async () => {
		await gatewayA.register("leaver");
		const session = await gatewayA.login("leaver");
		const onB = await connect(gatewayB.baseUrl, session.accessToken);
		sockets.push(onB);
		const ended = new Promise<{ type: string }>((resolve) => onB.once("session.ended", resolve));

		expect((await gatewayA.request("POST", "/api/v1/auth/logout", { token: session.accessToken })).status).toBe(204);

		expect(await ended).toMatchObject({ type: "SIGNED_OUT" });
		await new Promise((resolve) => setTimeout(resolve, 100));
		expect(onB.connected).toBe(false);
	});
});

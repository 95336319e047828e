import type { ServiceBroker } from "moleculer";
import { get as httpGet, type IncomingHttpHeaders } from "node:http";
import { Agent, request } from "node:https";
import { connect as tlsConnect, type SecureVersion } from "node:tls";
import type { Server } from "socket.io";
import { io, type Socket } from "socket.io-client";
import type { MessageView } from "../../types/chat";
import { clearJetStreamNamespace, clearRedisNamespace, clusterBroker, TestDatabase, uniqueNamespace } from "../support/cluster";
import { describeNginx, TestNginx } from "../support/nginx";
import { apiService, chatService, gatewayUrl, usersService } from "../support/platform";
import { servers } from "../support/servers";
import { callAction, connected } from "../support/sockets";
import { until } from "../support/waiting";

const PASSWORD = "correct horse battery";

interface Answer<T> {
	status: number;
	headers: IncomingHttpHeaders;
	rawHeaders: string[];
	body: T;
}

interface Registered {
	user: { id: number };
}

interface SignedIn {
	accessToken: string;
}

describeNginx("nginx in front of two gateways (TLS 1.3, sticky sockets, rate limits; NATS, MariaDB, Redis)", () => {
	const namespace = uniqueNamespace("it-nginx");
	const usersDb = new TestDatabase(`${namespace}-users`);
	const chatDb = new TestDatabase(`${namespace}-chat`);
	const nginx = new TestNginx();
	const agents = new Map<string, Agent>();
	const sockets: Socket[] = [];
	let nodes: ServiceBroker[] = [];
	let gateways: ServiceBroker[] = [];
	let owner: { id: number; token: string };
	let ann: { id: number; token: string };

	/** Connections from `address` (any of 127.0.0.0/8 is this machine) that trust only the test's certificate. */
	function agentFrom(address: string): Agent {
		let agent = agents.get(address);
		if (!agent) {
			agent = new Agent({ ca: nginx.certificate, localAddress: address, keepAlive: true });
			agents.set(address, agent);
		}
		return agent;
	}

	function call<T = Record<string, unknown>>(method: string, path: string, options: { body?: unknown; rawBody?: string; token?: string; from?: string } = {}): Promise<Answer<T>> {
		const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
		const headers: Record<string, string> = {};
		if (payload !== undefined) headers["content-type"] = "application/json";
		if (options.token) headers.authorization = `Bearer ${options.token}`;
		return new Promise((resolve, reject) => {
			const req = request(
				{ host: "127.0.0.1", port: nginx.httpsPort, method, path, headers, agent: agentFrom(options.from ?? "127.0.0.1"), timeout: 10_000 },
				(res) => {
					const chunks: Buffer[] = [];
					res.on("data", (chunk: Buffer) => chunks.push(chunk));
					res.on("end", () => {
						const text = Buffer.concat(chunks).toString();
						let body: unknown = text;
						try {
							body = text ? JSON.parse(text) : null;
						} catch {
							// Not JSON: the test sees the text.
						}
						resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: body as T });
					});
				},
			);
			req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
			req.on("error", reject);
			req.end(payload);
		});
	}

	async function signUp(username: string): Promise<{ id: number; token: string }> {
		const registered = await call<Registered>("POST", "/api/v1/auth/register", { body: { username, email: `${username}@example.com`, password: PASSWORD } });
		if (registered.status !== 201) throw new Error(`register of ${username} failed: ${JSON.stringify(registered.body)}`);
		const login = await call<SignedIn>("POST", "/api/v1/auth/login", { body: { username, password: PASSWORD } });
		if (login.status !== 200) throw new Error(`login of ${username} failed: ${JSON.stringify(login.body)}`);
		return { id: registered.body.user.id, token: login.body.accessToken };
	}

	/** A socket.io client through nginx from `address`, over one transport only. */
	function openSocket(token: string, transport: "websocket" | "polling", address = "127.0.0.1"): Socket {
		const socket = io(nginx.httpsUrl, {
			auth: { token },
			transports: [transport],
			reconnection: false,
			forceNew: true,
			ca: nginx.certificate,
			// engine.io-client hands `agent` to node's https.request; its type names only what a browser takes.
			agent: agentFrom(address) as unknown as string,
		});
		sockets.push(socket);
		return socket;
	}

	/** Which gateway answers `address`: the node id of /health/live, through nginx. */
	async function gatewayOf(address: string): Promise<string> {
		const answer = await call<{ nodeID: string }>("GET", "/health/live", { from: address });
		return answer.body.nodeID;
	}

	async function stopGateway(nodeID: string): Promise<void> {
		const gateway = gateways.find((node) => node.nodeID === nodeID)!;
		nodes = nodes.filter((node) => node !== gateway);
		await gateway.stop();
	}

	function ioOf(nodeID: string): Server {
		const gateway = gateways.find((node) => node.nodeID === nodeID)!;
		return (gateway.getLocalService("api") as unknown as { io: Server }).io;
	}

	beforeAll(async () => {
		await Promise.all([usersDb.create(), chatDb.create()]);
		const quickToBlock = { freeAttempts: 3, baseDelayMs: 60_000, maxDelayMs: 60_000, forgetAfterMs: 60_000 };
		const accountPolicy = { freeAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 60_000, forgetAfterMs: 60_000 };
		gateways = [
			clusterBroker(namespace, "gateway-a", [apiService({ redisUrl: servers.redis, trustedProxies: ["127.0.0.1"] })]),
			clusterBroker(namespace, "gateway-b", [apiService({ redisUrl: servers.redis, trustedProxies: ["127.0.0.1"] })]),
		];
		nodes = [
			clusterBroker(namespace, "users-1", [usersService({ databaseUri: usersDb.uri, loginThrottle: { account: accountPolicy, address: quickToBlock } })]),
			clusterBroker(namespace, "chat-1", [chatService({ databaseUri: chatDb.uri })]),
			...gateways,
		];
		await Promise.all(nodes.map((node) => node.start()));
		await Promise.all(gateways.map((node) => node.waitForServices(["users", "chat"], 15_000)));
		await nginx.start(gateways.map((node) => new URL(gatewayUrl(node)).host));
		owner = await signUp("owner");
		ann = await signUp("ann");
	}, 60_000);

	afterAll(async () => {
		for (const socket of sockets) socket.close();
		for (const agent of agents.values()) agent.destroy();
		await nginx.stop();
		await Promise.all(nodes.map((node) => node.stop()));
		await Promise.all([usersDb.drop(), chatDb.drop()]);
		await Promise.all([clearRedisNamespace(namespace), clearJetStreamNamespace(namespace)]);
	});

	it("redirects plain HTTP to HTTPS with a 301", async () => {
		const answer = await new Promise<{ status: number; location?: string }>((resolve, reject) => {
			httpGet({ host: "127.0.0.1", port: nginx.httpPort, path: "/api/v1/users/me?page=2" }, (res) => {
				res.resume();
				resolve({ status: res.statusCode!, location: res.headers.location });
			}).on("error", reject);
		});

		expect(answer).toEqual({ status: 301, location: "https://127.0.0.1/api/v1/users/me?page=2" });
	});

	it("speaks TLS 1.3 and refuses a client that stops at TLS 1.2", async () => {
		const handshake = (maxVersion?: SecureVersion) =>
			new Promise<string | null>((resolve, reject) => {
				const socket = tlsConnect({ host: "127.0.0.1", port: nginx.httpsPort, ca: nginx.certificate, maxVersion }, () => {
					resolve(socket.getProtocol());
					socket.end();
				});
				socket.once("error", reject);
			});

		expect(await handshake()).toBe("TLSv1.3");
		await expect(handshake("TLSv1.2")).rejects.toMatchObject({ code: expect.stringMatching(/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/) });
	});

	it("serves REST over HTTPS: register, sign in, and the signed-in user", async () => {
		const registered = await call<Registered>("POST", "/api/v1/auth/register", { body: { username: "cleo", email: "cleo@example.com", password: PASSWORD } });
		expect(registered.status).toBe(201);
		const login = await call<SignedIn>("POST", "/api/v1/auth/login", { body: { username: "cleo", password: PASSWORD } });
		expect(login.status).toBe(200);

		const me = await call("GET", "/api/v1/users/me", { token: login.body.accessToken });

		expect(me.status).toBe(200);
		expect(me.body).toMatchObject({ id: registered.body.user.id, username: "cleo" });
	});

	it("adds HSTS to every answer and leaves the other security headers to the gateway, once each", async () => {
		const fromGateway = await call("GET", "/api/v1/users/me", { token: owner.token });
		const fromNginx = await call("GET", "/metrics");
		const count = (answer: Answer<unknown>, name: string) => answer.rawHeaders.filter((header, i) => i % 2 === 0 && header.toLowerCase() === name).length;

		for (const answer of [fromGateway, fromNginx]) {
			expect(answer.headers["strict-transport-security"]).toMatch(/^max-age=\d{8,}; includeSubDomains$/);
			expect(count(answer, "strict-transport-security")).toBe(1);
		}
		expect(count(fromGateway, "content-security-policy")).toBe(1);
		expect(count(fromGateway, "x-content-type-options")).toBe(1);
		// /metrics is answered by nginx itself, in the gateway's error shape.
		expect(fromNginx.status).toBe(404);
		expect(fromNginx.body).toMatchObject({ code: 404, type: "NOT_FOUND" });
	});

	it("spreads clients over both gateways and keeps each client on its gateway", async () => {
		const addresses = Array.from({ length: 16 }, (_, i) => `127.0.0.${10 + i}`);
		const first = await Promise.all(addresses.map(gatewayOf));
		const again = await Promise.all(addresses.map(gatewayOf));

		expect(again).toEqual(first);
		expect(new Set(first)).toEqual(new Set(["gateway-a", "gateway-b"]));
	});

	it("carries socket.io over WSS: a message sent by another user reaches the socket", async () => {
		const { body } = await call<{ channel: { id: number } }>("POST", "/api/v1/channels", { body: { name: "general", type: "public" }, token: owner.token });
		const channelId = body.channel.id;
		expect((await call("POST", `/api/v1/channels/${channelId}/join`, { body: {}, token: ann.token })).status).toBeLessThan(300);
		const socket = await connected(openSocket(ann.token, "websocket"));
		const received: string[] = [];
		socket.on("chat.message", (message: MessageView) => received.push(message.text ?? ""));

		await call("POST", `/api/v1/channels/${channelId}/messages`, { body: { text: "hello through nginx" }, token: owner.token });

		await until(() => received.length > 0, "the socket has the message");
		expect(received).toEqual(["hello through nginx"]);
		expect(socket.io.engine.transport.name).toBe("websocket");
	});

	it("keeps every long-polling request of a socket.io session on the gateway that made the session", async () => {
		// Two clients on each gateway: a request that reached the other one would find no such session there.
		const byGateway = new Map<string, string[]>();
		for (let i = 0; i < 64 && [...byGateway.values()].filter((list) => list.length >= 2).length < 2; i++) {
			const address = `127.0.1.${10 + i}`;
			const gateway = await gatewayOf(address);
			byGateway.set(gateway, [...(byGateway.get(gateway) ?? []), address].slice(0, 2));
		}
		expect([...byGateway.keys()].sort()).toEqual(["gateway-a", "gateway-b"]);

		for (const [gateway, addresses] of byGateway) {
			for (const address of addresses) {
				const socket = await connected(openSocket(ann.token, "polling", address));
				const presence = await callAction<{ items: { userId: number; status: string }[] }>(socket, "api.presence", { ids: String(ann.id) });

				expect(presence.items).toEqual([{ userId: ann.id, status: "online" }]);
				expect(socket.io.engine.transport.name).toBe("polling");
				expect(ioOf(gateway).of("/").sockets.has(socket.id!)).toBe(true);
				const polls = nginx.accessLog().filter((entry) => entry.client === address && entry.path === "/socket.io/");
				expect(polls.length).toBeGreaterThanOrEqual(3);
				expect(new Set(polls.map((entry) => entry.upstream)).size).toBe(1);
				expect(polls.every((entry) => entry.status === 200)).toBe(true);
			}
		}
	});

	it("answers 429 itself when one address signs in too often, before any gateway is asked", async () => {
		const attempts = await Promise.all(
			Array.from({ length: 40 }, (_, i) => call("POST", "/api/v1/auth/login", { body: { username: `ghost${i}`, password: "a wrong guess" }, from: "127.0.0.60" })),
		);
		const byNginx = attempts.filter((answer) => answer.headers["x-ratelimit-limit"] === undefined);

		expect(byNginx.length).toBeGreaterThan(0);
		for (const answer of byNginx) {
			expect(answer.status).toBe(429);
			expect(answer.body).toMatchObject({ code: 429, type: "RATE_LIMITED" });
		}
		// The rest reached the gateway: wrong passwords, then the sign-in throttle of that address.
		expect(attempts.length - byNginx.length).toBeGreaterThan(0);
		await until(() => nginx.accessLog().some((entry) => entry.client === "127.0.0.60" && entry.limit === "REJECTED"), "nginx logged the refusals");
		const refused = nginx.accessLog().filter((entry) => entry.client === "127.0.0.60" && entry.limit === "REJECTED");
		expect(refused.every((entry) => entry.status === 429 && entry.upstream === "")).toBe(true);
	});

	it("lets the gateways see each client's own address through X-Forwarded-For", async () => {
		const statuses: number[] = [];
		for (let i = 0; i < 3; i++) {
			statuses.push((await call("POST", "/api/v1/auth/login", { body: { username: `stranger${i}`, password: "a wrong guess" }, from: "127.0.0.70" })).status);
		}
		// The address that failed three times waits, even with the right password; its neighbour and nginx's own do not.
		const guesser = await call("POST", "/api/v1/auth/login", { body: { username: "owner", password: PASSWORD }, from: "127.0.0.70" });
		const neighbour = await call("POST", "/api/v1/auth/login", { body: { username: "owner", password: PASSWORD }, from: "127.0.0.71" });

		expect(statuses).toEqual([401, 401, 401]);
		expect(guesser.status).toBe(429);
		expect(guesser.body).toMatchObject({ type: "LOGIN_THROTTLED" });
		expect(guesser.headers["x-ratelimit-limit"]).toBeDefined();
		expect(neighbour.status).toBe(200);
	});

	it("refuses a body over the gateway's 64 KB itself", async () => {
		const answer = await call("POST", "/api/v1/channels", { rawBody: JSON.stringify({ name: "big", topic: "x".repeat(70_000) }), token: owner.token });

		expect(answer.status).toBe(413);
		expect(answer.body).toMatchObject({ code: 413, type: "PAYLOAD_TOO_LARGE" });
		expect(answer.headers["x-ratelimit-limit"]).toBeUndefined();
	});

	// Stops the gateways: the last test of the file.
	it("answers the clients of a gateway that went away from the other one, and 503 when none is left", async () => {
		const addresses = Array.from({ length: 16 }, (_, i) => `127.0.2.${10 + i}`);
		const before = await Promise.all(addresses.map(gatewayOf));
		const orphans = addresses.filter((_, i) => before[i] === "gateway-b");
		expect(orphans.length).toBeGreaterThan(0);
		// Open sockets would hold a gateway's HTTP server open while it stops.
		for (const socket of sockets) socket.close();

		await stopGateway("gateway-b");
		const after = await Promise.all(orphans.map((address) => call<{ nodeID: string }>("GET", "/health/live", { from: address })));
		const me = await call("GET", "/api/v1/users/me", { token: owner.token, from: orphans[0] });

		expect(after.map((answer) => answer.body.nodeID)).toEqual(orphans.map(() => "gateway-a"));
		expect(me.status).toBe(200);

		await stopGateway("gateway-a");
		const none = await call("GET", "/api/v1/users/me", { token: owner.token });

		expect(none.status).toBe(503);
		expect(none.body).toMatchObject({ code: 503, type: "SERVICE_UNAVAILABLE" });
	});
});

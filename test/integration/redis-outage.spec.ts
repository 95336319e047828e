import type { ServiceBroker } from "moleculer";
import Redis from "ioredis";
import type { PublicUser, TokenPair } from "../../types/users";
import { clearJetStreamNamespace, clusterBroker, TestDatabase, uniqueNamespace } from "../support/cluster";
import { describeIntegration } from "../support/integration";
import { apiService, chatService, gatewayUrl, RestClient, usersService, type ErrorBody } from "../support/platform";
import { PrivateRedis } from "../support/redis-server";

interface Readiness {
	ready: boolean;
	checks: Record<string, boolean>;
	degraded: string[];
}

interface Answer {
	status: number;
	ms: number;
}

describeIntegration("Redis stopped and restarted under traffic (gateway and users,chat nodes over NATS, MariaDB)", () => {
	const namespace = uniqueNamespace("it-redis");
	const usersDb = new TestDatabase(`${namespace}-users`);
	const chatDb = new TestDatabase(`${namespace}-chat`);
	let redis: PrivateRedis;
	let nodes: ServiceBroker[] = [];
	let gateway: RestClient;
	let admin: TokenPair;
	let member: TokenPair;
	let memberId: number;
	let channelId: number;

	/** Requests of a signed-in member in a loop, each answer's status and time kept, until stopped. */
	function traffic(): { stop(): Promise<Answer[]> } {
		const answers: Answer[] = [];
		let running = true;
		const loop = (async () => {
			for (let i = 0; running; i++) {
				const started = Date.now();
				const answer =
					i % 3 === 2
						? await gateway.post(`/api/v1/channels/${channelId}/messages`, { text: `during traffic ${i}` }, member.accessToken)
						: await gateway.get(i % 3 === 0 ? "/api/v1/users/me" : `/api/v1/presence?ids=${memberId}`, member.accessToken);
				answers.push({ status: answer.status, ms: Date.now() - started });
				await new Promise((resolve) => setTimeout(resolve, 20));
			}
		})();
		return {
			async stop() {
				running = false;
				await loop;
				return answers;
			},
		};
	}

	beforeAll(async () => {
		redis = await PrivateRedis.start();
		await Promise.all([usersDb.create(), chatDb.create()]);
		const env = { REDIS_URL: redis.url };
		nodes = [
			clusterBroker(namespace, "users-chat", [usersService({ databaseUri: usersDb.uri }), chatService({ databaseUri: chatDb.uri })], env),
			clusterBroker(namespace, "gateway", [apiService({ redisUrl: redis.url, rateLimitPerMinute: 1_000, presenceTtlMs: 3_000 })], env),
		];
		await Promise.all(nodes.map((node) => node.start()));
		await nodes[1].waitForServices(["users", "chat"], 15_000);
		gateway = new RestClient(gatewayUrl(nodes[1]));
		await gateway.register("root");
		admin = await gateway.login("root");
		memberId = (await gateway.register("mia")).body.user.id;
		member = await gateway.login("mia");
		channelId = (await gateway.post<{ channel: { id: number } }>("/api/v1/channels", { name: "ops", type: "public" }, member.accessToken)).body.channel.id;
	});

	afterAll(async () => {
		redis.resume();
		await Promise.all(nodes.map((node) => node.stop()));
		await Promise.all([usersDb.drop(), chatDb.drop(), clearJetStreamNamespace(namespace)]);
		await redis.kill();
	});

	it("keeps answering without Redis: no 500, no stall, revocations enforced, presence unknown, the node degraded but ready", async () => {
		// The member's session is cached in Redis before it goes away.
		expect((await nodes[0].call<{ roles: string[] }, { id: number }>("users.session", { id: memberId })).roles).toEqual(["member"]);
		const load = traffic();
		await new Promise((resolve) => setTimeout(resolve, 500));

		await redis.kill();
		await new Promise((resolve) => setTimeout(resolve, 1_500));
		const quitter = await gateway.login("root");
		const logout = await gateway.request("POST", "/api/v1/auth/logout", { token: quitter.accessToken });
		const afterLogout = await gateway.get<ErrorBody>("/api/v1/users/me", quitter.accessToken);
		const presence = await gateway.get<{ items: { status: string }[] }>(`/api/v1/presence?ids=${memberId}`, member.accessToken);
		const readiness = await gateway.get<Readiness>("/health/ready");
		// A role change while Redis is away cannot clean the cached session there.
		expect((await gateway.patch(`/api/v1/users/${memberId}/roles`, { roles: ["admin"] }, admin.accessToken)).status).toBe(200);
		await new Promise((resolve) => setTimeout(resolve, 1_000));
		const answers = await load.stop();

		expect(answers.length).toBeGreaterThan(20);
		expect(answers.filter((answer) => answer.status >= 500)).toEqual([]);
		expect(Math.max(...answers.map((answer) => answer.ms))).toBeLessThan(2_000);
		expect(logout.status).toBe(204);
		expect(afterLogout.status).toBe(401);
		expect(afterLogout.body.type).toBe("TOKEN_REVOKED");
		expect(presence.body.items[0].status).toBe("unknown");
		expect(readiness.status).toBe(200);
		expect(readiness.body.degraded).toEqual(expect.arrayContaining(["redis:api", "cacher"]));
		expect((await gateway.get<PublicUser>("/api/v1/users/me", member.accessToken)).body.roles).toEqual(["admin"]);
	});

	it("is back to normal once Redis is back, without a restart: shared counters, cache and presence", async () => {
		const load = traffic();
		await redis.restart();
		const client = new Redis(redis.url);
		try {
			let ready: Readiness | undefined;
			for (let i = 0; i < 100 && !(ready?.ready && ready.degraded.length === 0); i++) {
				await new Promise((resolve) => setTimeout(resolve, 100));
				ready = (await gateway.get<Readiness>("/health/ready")).body;
			}
			await new Promise((resolve) => setTimeout(resolve, 4_000));
			const answers = await load.stop();

			expect(ready).toMatchObject({ ready: true, degraded: [] });
			expect(answers.filter((answer) => answer.status >= 500)).toEqual([]);
			expect(await client.exists(`colony:${namespace}:ratelimit:user:${memberId}`)).toBe(1);
			// The session cached before the outage is gone: the role change made during it shows.
			expect((await nodes[0].call<{ roles: string[] }, { id: number }>("users.session", { id: memberId })).roles).toEqual(["admin"]);
			expect((await client.keys(`MOL-${namespace}*`)).length).toBeGreaterThan(0);
			const presence = await gateway.get<{ items: { status: string }[] }>(`/api/v1/presence?ids=${memberId}`, member.accessToken);
			expect(presence.body.items[0].status).toBe("offline");
		} finally {
			client.disconnect();
		}
	});

	it("stays answering while Redis hangs, and drops what it cached before once Redis answers again", async () => {
		expect((await gateway.patch(`/api/v1/users/${memberId}/roles`, { roles: ["member"] }, admin.accessToken)).status).toBe(200);
		// Cached in Redis as a member, and the data survives the hang.
		expect((await nodes[0].call<{ roles: string[] }, { id: number }>("users.session", { id: memberId })).roles).toEqual(["member"]);
		const load = traffic();

		redis.pause();
		await new Promise((resolve) => setTimeout(resolve, 1_500));
		const promoted = await gateway.patch(`/api/v1/users/${memberId}/roles`, { roles: ["guest"] }, admin.accessToken);
		await new Promise((resolve) => setTimeout(resolve, 1_000));
		redis.resume();
		await new Promise((resolve) => setTimeout(resolve, 4_000));
		const answers = await load.stop();

		expect(promoted.status).toBe(200);
		expect(answers.filter((answer) => answer.status >= 500)).toEqual([]);
		expect(Math.max(...answers.map((answer) => answer.ms))).toBeLessThan(2_500);
		expect((await nodes[0].call<{ roles: string[] }, { id: number }>("users.session", { id: memberId })).roles).toEqual(["guest"]);
	});
});

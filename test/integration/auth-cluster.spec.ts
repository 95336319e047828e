import type { ServiceBroker } from "moleculer";
import { AccessTokens } from "../../lib/auth/tokens";
import { clearRedisNamespace, clusterBroker, TestDatabase, uniqueNamespace } from "../support/cluster";
import { describeIntegration } from "../support/integration";
import { apiService, gatewayUrl, RestClient, usersService } from "../support/platform";
import { servers } from "../support/servers";

const RATE_LIMIT = 100;

function withSignature(token: string, signature: string): string {
	return token.split(".").slice(0, 2).concat(signature).join(".");
}

async function waitForReady(client: RestClient): Promise<void> {
	for (let i = 0; i < 100; i++) {
		if ((await client.get("/health/ready")).status === 200) return;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	throw new Error("the gateway did not become ready");
}

function unsignedToken(claims: Record<string, unknown>): string {
	const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString("base64url");
	return `${encode({ alg: "none", typ: "JWT" })}.${encode(claims)}.`;
}

describeIntegration("sign-in across two gateways and a users node (NATS, MariaDB, Redis)", () => {
	const namespace = uniqueNamespace("it-auth");
	const database = new TestDatabase(namespace);
	let nodes: ServiceBroker[] = [];
	let gatewayA: RestClient;
	let gatewayB: RestClient;

	beforeAll(async () => {
		await database.create();
		nodes = [
			clusterBroker(namespace, "users-1", [usersService({ databaseUri: database.uri })]),
			clusterBroker(namespace, "gateway-a", [apiService({ redisUrl: servers.redis, rateLimitPerMinute: RATE_LIMIT })]),
			clusterBroker(namespace, "gateway-b", [apiService({ redisUrl: servers.redis, rateLimitPerMinute: RATE_LIMIT })]),
		];
		await Promise.all(nodes.map((node) => node.start()));
		await Promise.all(nodes.slice(1).map((node) => node.waitForServices(["users"], 15_000)));
		gatewayA = new RestClient(gatewayUrl(nodes[1]));
		gatewayB = new RestClient(gatewayUrl(nodes[2]));
		// The first account is the admin; the tests below use members.
		expect((await gatewayA.register("root")).status).toBe(201);
	});

	afterAll(async () => {
		await Promise.all(nodes.map((node) => node.stop()));
		await database.drop();
		await clearRedisNamespace(namespace);
	});

	it("accepts on gateway B a token issued through gateway A", async () => {
		await gatewayA.register("ann");
		const { accessToken } = await gatewayA.login("ann");
		const me = await gatewayB.get("/api/v1/users/me", accessToken);
		expect(me.status).toBe(200);
		expect(me.body).toMatchObject({ username: "ann", email: "ann@example.com", roles: ["member"] });
	});

	it("refuses on gateway B, at once, a token logged out on gateway A", async () => {
		await gatewayB.register("ben");
		const { accessToken } = await gatewayB.login("ben");
		expect((await gatewayB.get("/api/v1/users/me", accessToken)).status).toBe(200);

		const logout = await gatewayA.request("POST", "/api/v1/auth/logout", { token: accessToken });
		expect(logout.status).toBe(204);

		const after = await gatewayB.get("/api/v1/users/me", accessToken);
		expect(after.status).toBe(401);
		expect(after.body).toMatchObject({ type: "TOKEN_REVOKED" });
	});

	it("refuses a logged-out token on a gateway that joined the cluster after the logout", async () => {
		await gatewayA.register("bea");
		const { accessToken } = await gatewayA.login("bea");
		expect((await gatewayA.request("POST", "/api/v1/auth/logout", { token: accessToken })).status).toBe(204);

		const late = clusterBroker(namespace, "gateway-late", [apiService({ redisUrl: servers.redis })]);
		try {
			await late.start();
			await late.waitForServices(["users"], 15_000);
			const gatewayLate = new RestClient(gatewayUrl(late));
			await waitForReady(gatewayLate);

			const answer = await gatewayLate.get("/api/v1/users/me", accessToken);

			expect(answer.status).toBe(401);
			expect(answer.body).toMatchObject({ type: "TOKEN_REVOKED" });
		} finally {
			await late.stop();
		}
	});

	it("counts one user's requests on both gateways against one budget: the 101st gets 429", async () => {
		await gatewayA.register("cleo");
		const { accessToken } = await gatewayA.login("cleo");
		const gateways = [gatewayA, gatewayB];
		for (let i = 0; i < RATE_LIMIT; i++) {
			const answer = await gateways[i % 2].get("/api/v1/users/me", accessToken);
			expect(answer.status).toBe(200);
		}
		const refusedOnA = await gatewayA.get("/api/v1/users/me", accessToken);
		const refusedOnB = await gatewayB.get("/api/v1/users/me", accessToken);
		for (const refused of [refusedOnA, refusedOnB]) {
			expect(refused.status).toBe(429);
			expect(refused.body).toMatchObject({ type: "RATE_LIMITED" });
			expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
		}

		// Another user still has a budget of their own.
		await gatewayB.register("dan");
		const dan = await gatewayB.login("dan");
		expect((await gatewayA.get("/api/v1/users/me", dan.accessToken)).status).toBe(200);
	});

	describe("refuses forged, expired and replayed credentials", () => {
		let accessToken: string;
		let userId: number;

		beforeAll(async () => {
			const registered = await gatewayA.register("eve");
			userId = registered.body.user.id;
			accessToken = (await gatewayA.login("eve")).accessToken;
		});

		it("refuses a token whose signature was tampered with", async () => {
			const signature = accessToken.split(".")[2];
			const flipped = (signature[0] === "A" ? "B" : "A") + signature.slice(1);
			const answer = await gatewayB.get("/api/v1/users/me", withSignature(accessToken, flipped));
			expect(answer.status).toBe(401);
			expect(answer.body).toMatchObject({ type: "INVALID_TOKEN" });
		});

		it("refuses an unsigned token (alg: none) claiming to be an admin", async () => {
			const now = Math.floor(Date.now() / 1000);
			const forged = unsignedToken({ sub: "1", jti: "forged", iat: now, exp: now + 600, iss: "colony", aud: "colony" });
			const answer = await gatewayA.get("/api/v1/users", forged);
			expect(answer.status).toBe(401);
			expect(answer.body).toMatchObject({ type: "INVALID_TOKEN" });
		});

		it("refuses an expired token and says so", async () => {
			const expired = new AccessTokens(process.env.JWT_SECRET!).sign(userId, "a-session", -60).token;
			const answer = await gatewayB.get("/api/v1/users/me", expired);
			expect(answer.status).toBe(401);
			expect(answer.body).toMatchObject({ type: "TOKEN_EXPIRED" });
		});

		it("refuses a refresh token used twice and signs out the whole family", async () => {
			const { refreshToken } = await gatewayA.login("eve");
			const first = await gatewayA.post<{ refreshToken: string }>("/api/v1/auth/refresh", { refreshToken });
			expect(first.status).toBe(200);

			const replay = await gatewayB.post("/api/v1/auth/refresh", { refreshToken });
			expect(replay.status).toBe(401);
			expect(replay.body).toMatchObject({ type: "REFRESH_TOKEN_REUSED" });

			const successor = await gatewayA.post("/api/v1/auth/refresh", { refreshToken: first.body.refreshToken });
			expect(successor.status).toBe(401);
		});
	});

	it("applies a role change made through gateway A to the next request on gateway B", async () => {
		const admin = await gatewayA.login("root");
		const { body } = await gatewayA.register("fay");
		const fay = await gatewayB.login("fay");
		// This request caches fay's session (as a member) in Redis.
		expect((await gatewayB.get("/api/v1/users", fay.accessToken)).status).toBe(200);
		const refused = await gatewayB.patch(`/api/v1/users/${body.user.id}/roles`, { roles: ["admin"] }, fay.accessToken);
		expect(refused.status).toBe(403);

		const promoted = await gatewayA.patch(`/api/v1/users/${body.user.id}/roles`, { roles: ["admin"] }, admin.accessToken);
		expect(promoted.status).toBe(200);
		// setRoles needs users:admin, which fay's cached session did not have a moment ago.
		const asAdmin = await gatewayB.patch(`/api/v1/users/${body.user.id}/roles`, { roles: ["admin", "member"] }, fay.accessToken);
		expect(asAdmin.status).toBe(200);
	});

	it("keeps emails unreadable in the users database", async () => {
		const rows = await database.rows("SELECT * FROM users");
		expect(rows.length).toBeGreaterThan(3);
		const dump = JSON.stringify(rows);
		expect(dump).not.toContain("@example.com");
		expect(dump).not.toContain("correct horse battery");
	});
});

import type { ServiceBroker } from "moleculer";
import type { PublicUser, TokenPair } from "../../types/users";
import { clearRedisNamespace, clusterBroker, TestDatabase, uniqueNamespace } from "../support/cluster";
import { describeIntegration } from "../support/integration";
import { LostAnswers } from "../support/lost-answers";
import { apiService, gatewayUrl, RestClient, usersService, type ErrorBody } from "../support/platform";
import { servers } from "../support/servers";

describeIntegration("safe retries and atomic role changes on two users nodes (NATS, MariaDB, Redis)", () => {
	const namespace = uniqueNamespace("it-safety");
	const database = new TestDatabase(namespace);
	const lost = new LostAnswers();
	let nodes: ServiceBroker[] = [];
	let gateway: RestClient;

	beforeAll(async () => {
		await database.create();
		const users = () => usersService({ databaseUri: database.uri });
		nodes = [
			clusterBroker(namespace, "users-1", [users()], {}, [lost.middleware]),
			clusterBroker(namespace, "users-2", [users()], {}, [lost.middleware]),
			clusterBroker(namespace, "gateway", [apiService({ redisUrl: servers.redis, rateLimitPerMinute: 10_000 })]),
		];
		await Promise.all(nodes.map((node) => node.start()));
		await nodes[2].waitForServices(["users"], 15_000);
		gateway = new RestClient(gatewayUrl(nodes[2]));
	});

	afterAll(async () => {
		await Promise.all(nodes.map((node) => node.stop()));
		await database.drop();
		await clearRedisNamespace(namespace);
	});

	it("makes exactly one admin of the very first registrations, racing on two nodes", async () => {
		const answers = await Promise.all(["ada", "max", "kim", "lou"].map((name) => gateway.register(name)));

		expect(answers.map((answer) => answer.status)).toEqual([201, 201, 201, 201]);
		expect(answers.filter((answer) => answer.body.user.roles.includes("admin"))).toHaveLength(1);
		expect(await database.rows("SELECT id FROM users WHERE roles LIKE '%admin%'")).toHaveLength(1);
	});

	it("never leaves the platform without an admin when the last two demote each other at once", async () => {
		const [{ username: founder }] = await database.rows("SELECT username FROM users WHERE roles LIKE '%admin%'");
		const names = [founder as string, ["ada", "max"].find((name) => name !== founder)!];
		const sessions: Record<string, TokenPair> = {};
		for (const name of names) sessions[name] = await gateway.login(name);
		const ids: Record<string, number> = {};
		const directory = await gateway.get<{ items: PublicUser[] }>("/api/v1/users?limit=100", sessions[names[0]].accessToken);
		for (const user of directory.body.items) ids[user.username] = user.id;

		for (let round = 0; round < 5; round++) {
			const admins = (await database.rows("SELECT username FROM users WHERE roles LIKE '%admin%'")).map((row) => row.username as string);
			const survivor = admins[0];
			const other = names.find((name) => name !== survivor)!;
			if (!admins.includes(other)) {
				expect((await gateway.patch(`/api/v1/users/${ids[other]}/roles`, { roles: ["admin"] }, sessions[survivor].accessToken)).status).toBe(200);
			}

			const answers = await Promise.all([
				gateway.patch<ErrorBody>(`/api/v1/users/${ids[names[1]]}/roles`, { roles: ["member"] }, sessions[names[0]].accessToken),
				gateway.patch<ErrorBody>(`/api/v1/users/${ids[names[0]]}/roles`, { roles: ["member"] }, sessions[names[1]].accessToken),
			]);

			expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
			expect(answers.find((answer) => answer.status !== 200)?.status).toBeGreaterThanOrEqual(403);
			expect(await database.rows("SELECT id FROM users WHERE roles LIKE '%admin%'")).toHaveLength(1);
		}
	});

	it("retries a refresh whose answer was lost on its way between nodes, and the user stays signed in", async () => {
		const session = await gateway.login("kim");
		lost.loseNextAnswer("users.refresh");

		const refreshed = await gateway.post<TokenPair>("/api/v1/auth/refresh", { refreshToken: session.refreshToken });

		expect(refreshed.status).toBe(200);
		expect((await gateway.get("/api/v1/users/me", refreshed.body.accessToken)).status).toBe(200);
		expect((await gateway.post("/api/v1/auth/refresh", { refreshToken: refreshed.body.refreshToken })).status).toBe(200);
	});

	it("does not repeat a registration whose answer was lost between nodes", async () => {
		lost.loseNextAnswer("users.register");

		const answer = await gateway.register("late");

		expect(answer.status).toBe(504);
		expect((answer.body as unknown as ErrorBody).type).toBe("OUTCOME_UNKNOWN");
		expect(await database.rows("SELECT id FROM users WHERE username = 'late'")).toHaveLength(1);
	});
});

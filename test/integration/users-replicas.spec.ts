import type { ServiceBroker } from "moleculer";
import { usersMigrations } from "../../services/users/migrations";
import { clearRedisNamespace, clusterBroker, TestDatabase, uniqueNamespace } from "../support/cluster";
import { describeIntegration } from "../support/integration";
import { apiService, gatewayUrl, RestClient, usersService } from "../support/platform";
import { servers } from "../support/servers";

describeIntegration("two users replicas with node-local caches on one MariaDB database", () => {
	const namespace = uniqueNamespace("it-replicas");
	const database = new TestDatabase(namespace);
	// Memory cachers: each replica caches sessions itself, so only the clean-cache broadcast keeps them fresh.
	const localCache = { CACHER: "memory" };
	let nodes: ServiceBroker[] = [];
	let gateway: RestClient;

	beforeAll(async () => {
		await database.create();
		const users = () => usersService({ databaseUri: database.uri });
		nodes = [
			clusterBroker(namespace, "users-1", [users()], localCache),
			clusterBroker(namespace, "users-2", [users()], localCache),
			clusterBroker(namespace, "gateway", [apiService({ redisUrl: servers.redis })], localCache),
		];
		// Both replicas start at once: the migration lock must let exactly one of them create the schema.
		await Promise.all(nodes.map((node) => node.start()));
		await nodes[2].waitForServices(["users"], 15_000);
		gateway = new RestClient(gatewayUrl(nodes[2]));
	});

	afterAll(async () => {
		await Promise.all(nodes.map((node) => node.stop()));
		await database.drop();
		await clearRedisNamespace(namespace);
	});

	it("migrates the shared database once although both replicas started together", async () => {
		const applied = await database.rows("SELECT name FROM users_migrations");
		expect(applied.map((row) => row.name)).toEqual(usersMigrations.map((migration) => migration.name));
	});

	it("spreads requests over both replicas", async () => {
		await gateway.register("root");
		const { accessToken } = await gateway.login("root");
		const served = new Set<string>();
		for (let i = 0; i < 6; i++) {
			const answer = await gateway.request("GET", "/api/v1/users/me", { token: accessToken });
			expect(answer.status).toBe(200);
		}
		for (const node of nodes.slice(0, 2)) {
			const requests = node.metrics.getMetric("moleculer.request.total")?.snapshot() ?? [];
			const resolved = requests.filter((item) => (item as { labels: { action?: string } }).labels.action === "users.me");
			if (resolved.some((item) => Number((item as { value: number }).value) > 0)) served.add(node.nodeID);
		}
		expect([...served].sort()).toEqual(["users-1", "users-2"]);
	});

	it("cleans a changed user's cached session on every replica", async () => {
		const admin = await gateway.login("root");
		const { body } = await gateway.register("gus");
		const gus = await gateway.login("gus");
		// Several requests, so that both replicas cache gus's session as a member.
		for (let i = 0; i < 4; i++) expect((await gateway.get("/api/v1/users", gus.accessToken)).status).toBe(200);

		const promote = await gateway.patch(`/api/v1/users/${body.user.id}/roles`, { roles: ["admin"] }, admin.accessToken);
		expect(promote.status).toBe(200);

		for (let i = 0; i < 4; i++) {
			const answer = await gateway.patch(`/api/v1/users/${body.user.id}/roles`, { roles: ["admin", "member"] }, gus.accessToken);
			expect(answer.status).toBe(200);
		}
	});
});

import type { ServiceBroker } from "moleculer";
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { clearRedisNamespace, clusterBroker, TestDatabase, uniqueNamespace } from "../support/cluster";
import { describeIntegration } from "../support/integration";
import { apiService, gatewayUrl, RestClient } from "../support/platform";
import { expectServingHealth, NodeProcess } from "../support/processes";
import { servers } from "../support/servers";

const dist = resolve(__dirname, "../../dist");

describeIntegration("moleculer-runner on the build: a users node joined to the cluster over NATS", () => {
	const namespace = uniqueNamespace("it-runner");
	const database = new TestDatabase(namespace);
	const usersNode = new NodeProcess(
		"users node (moleculer-runner)",
		{
			NAMESPACE: namespace,
			NODE_ID: "runner-users",
			TRANSPORTER: servers.nats,
			REDIS_URL: servers.redis,
			JWT_SECRET: process.env.JWT_SECRET!,
			DATA_KEY: process.env.DATA_KEY!,
			USERS_DB_URI: database.uri,
			SERVICEDIR: resolve(dist, "services"),
			SERVICES: "users",
			HEALTH_PORT: "0",
		},
		[resolve(__dirname, "../../node_modules/moleculer/bin/moleculer-runner.js"), "--config", resolve(dist, "moleculer.config.js")],
	);
	let gateway: ServiceBroker;
	let rest: RestClient;
	let healthUrl: string;

	beforeAll(async () => {
		await database.create();
		healthUrl = `http://127.0.0.1:${(await usersNode.start()).healthPort}`;
		gateway = clusterBroker(namespace, "gateway", [apiService({ redisUrl: servers.redis })]);
		await gateway.start();
		await gateway.waitForServices(["users"], 15_000);
		rest = new RestClient(gatewayUrl(gateway));
	});

	afterAll(async () => {
		await usersNode.stop();
		await gateway.stop();
		await database.drop();
		await clearRedisNamespace(namespace);
	});

	it("runs only the services SERVICES names, and serves the gateway's sign-up and sign-in", async () => {
		const node = gateway.registry.getNodeList({ onlyAvailable: true, withServices: true }).find(({ id }) => id === "runner-users");
		expect(node?.services.map((service) => String(service.name)).sort()).toEqual(["$node", "users"]);
		expect((await rest.register("rita")).status).toBe(201);
		expect((await rest.login("rita")).accessToken).toEqual(expect.any(String));
	});

	it("opens the node's own readiness and metrics listener, as npm start does", async () => {
		await expectServingHealth(healthUrl, "runner-users", "users");
	});

	it("is found healthy by the container's health check, which asks the port the node's services imply", async () => {
		// Asynchronously: the gateway it asks runs in this process.
		const check = (env: Record<string, string>) =>
			new Promise<number | null>((done) => {
				const child = spawn(process.execPath, [resolve(dist, "healthcheck.js")], { env: { PATH: process.env.PATH, ...env }, timeout: 10_000 });
				child.once("exit", (code) => done(code));
			});
		const healthPort = new URL(healthUrl).port;

		expect(await check({ SERVICES: "users", HEALTH_PORT: healthPort })).toBe(0);
		expect(await check({ SERVICES: "api,users", PORT: new URL(rest.baseUrl).port })).toBe(0);
		// The same node asked on another port is not healthy: the check does look.
		expect(await check({ SERVICES: "api", PORT: healthPort === "1" ? "2" : "1" })).toBe(1);
	});

	it("refuses to start in production without its secrets, saying which", async () => {
		const unconfigured = new NodeProcess(
			"users node without secrets",
			{ NODE_ENV: "production", NAMESPACE: namespace, NODE_ID: "runner-bare", SERVICEDIR: resolve(dist, "services"), SERVICES: "users" },
			[resolve(__dirname, "../../node_modules/moleculer/bin/moleculer-runner.js"), "--config", resolve(dist, "moleculer.config.js")],
		);
		await expect(unconfigured.start(10_000)).rejects.toThrow(/JWT_SECRET/);
	});
});

import type { ServiceBroker } from "moleculer";
import { hostname, userInfo } from "node:os";
import { apiService, gatewayUrl, RestClient, startPlatform, testBroker, type Platform } from "../support/platform";
import { connectSocket } from "../support/sockets";
import { until } from "../support/waiting";

interface Readiness {
	status: string;
	ready: boolean;
	checks: Record<string, boolean>;
}

describe("health and metrics of the api node", () => {
	let platform: Platform;

	beforeAll(async () => {
		platform = await startPlatform({ broker: { nodeID: "api-node-1" } });
	});
	afterAll(() => platform.broker.stop());

	it("answers /health/live with 200 and the node id", async () => {
		const answer = await platform.client.get("/health/live");

		expect(answer.status).toBe(200);
		expect(answer.body).toEqual({ status: "ok", nodeID: "api-node-1" });
	});

	it("answers /health/ready with 200 and each check that passed, once the gateway loaded the ended sessions", async () => {
		let answer = await platform.client.get<Readiness>("/health/ready");
		for (let i = 0; i < 50 && answer.status !== 200; i++) {
			await new Promise((resolve) => setTimeout(resolve, 20));
			answer = await platform.client.get<Readiness>("/health/ready");
		}

		expect(answer.status).toBe(200);
		expect(answer.body).toMatchObject({ status: "ready", ready: true });
		expect(answer.body.checks).toEqual({ broker: true, cacher: true, "database:users": true, revocations: true, "users-service": true });
	});

	it("serves Prometheus text on /metrics, counting the requests it handled", async () => {
		await platform.client.register("counted");

		const answer = await fetch(`${platform.client.baseUrl}/metrics`);
		const text = await answer.text();

		expect(answer.status).toBe(200);
		expect(answer.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
		expect(text).toContain("# TYPE moleculer_request_total counter");
		expect(text).toMatch(/^moleculer_request_total\{[^}]*action="users\.register"[^}]*\} [1-9]\d*$/m);
	});

	it("answers health checks to anyone, without a token", async () => {
		for (const path of ["/health/live", "/health/ready"]) {
			expect((await fetch(`${platform.client.baseUrl}${path}`, { headers: { "x-forwarded-for": "203.0.113.9" } })).status).toBe(200);
		}
	});

	it("leaves out of the metrics what identifies the host: its name, OS user, home folder, addresses and kernel", async () => {
		const text = await (await fetch(`${platform.client.baseUrl}/metrics`)).text();

		expect(text).not.toContain(hostname());
		expect(text).not.toContain(userInfo().homedir);
		expect(text).not.toMatch(/os_user_|os_network_|os_hostname|os_release|process_pid/);
	});

	it("keeps the metrics from anyone reaching the gateway through a proxy or from elsewhere", async () => {
		const proxied = await fetch(`${platform.client.baseUrl}/metrics`, { headers: { "x-forwarded-for": "203.0.113.9" } });

		expect(proxied.status).toBe(404);
	});

	it("serves the metrics to the bearer of METRICS_TOKEN only, once it is set", async () => {
		process.env.METRICS_TOKEN = "scraper-secret-0123456789";
		try {
			const url = `${platform.client.baseUrl}/metrics`;
			const anonymous = await fetch(url);
			const wrong = await fetch(url, { headers: { authorization: "Bearer not-the-secret-01234567" } });
			const scraper = await fetch(url, { headers: { authorization: "Bearer scraper-secret-0123456789", "x-forwarded-for": "10.0.0.5" } });

			expect([anonymous.status, wrong.status, scraper.status]).toEqual([404, 404, 200]);
		} finally {
			delete process.env.METRICS_TOKEN;
		}
	});
});

describe("readiness of an api node without a users service", () => {
	let broker: ServiceBroker;
	let client: RestClient;

	beforeAll(async () => {
		broker = testBroker();
		broker.createService(apiService());
		await broker.start();
		client = new RestClient(gatewayUrl(broker));
	});
	afterAll(() => broker.stop());

	it("answers /health/ready with 503 naming the missing users service, while /health/live stays 200", async () => {
		const ready = await client.get<Readiness>("/health/ready");

		expect(ready.status).toBe(503);
		expect(ready.body).toMatchObject({ status: "not ready", ready: false, checks: { "users-service": false } });
		expect((await client.get("/health/live")).status).toBe(200);
	});

	it("answers API calls with 503 SERVICE_UNAVAILABLE", async () => {
		const answer = await client.post("/api/v1/auth/login", { username: "someone", password: "correct horse battery" });

		expect(answer.status).toBe(503);
		expect(answer.body).toMatchObject({ code: 503, type: "SERVICE_UNAVAILABLE" });
	});
});

describe("what an operator reads in the gateway's metrics", () => {
	let platform: Platform;
	const scrape = async () => (await fetch(`${platform.client.baseUrl}/metrics`)).text();
	const sample = (text: string, pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);

	beforeAll(async () => {
		platform = await startPlatform({ chat: {}, broker: { nodeID: "api-metrics" } });
	});
	afterAll(() => platform.broker.stop());

	it("times every HTTP answer by area, method and status class, so error and success rates can be told apart", async () => {
		const user = await platform.client.signUp("timed");
		await platform.client.get("/api/v1/users/me", user.accessToken);
		await platform.client.get("/api/v1/users/me", "not-a-token");

		const text = await scrape();
		expect(sample(text, /^colony_http_request_seconds_count\{[^}]*area="api"[^}]*method="GET"[^}]*status="2xx"[^}]*\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
		expect(sample(text, /^colony_http_request_seconds_count\{[^}]*area="api"[^}]*method="GET"[^}]*status="4xx"[^}]*\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
		expect(sample(text, /^colony_http_request_seconds_sum\{[^}]*area="api"[^}]*method="POST"[^}]*status="2xx"[^}]*\} ([\d.e-]+)$/m)).toBeGreaterThan(0);
	});

	it("counts the WebSocket connections the gateway holds, up when one connects and down when it leaves", async () => {
		const user = await platform.client.signUp("connected");
		// moleculer-io's gauge has no series until the first socket connects.
		const connections = async () => sample(await scrape(), /^moleculer_io_socket_active\{[^}]*\} (\d+)$/m) || 0;
		const before = await connections();

		const socket = await connectSocket(platform.client.baseUrl, user.accessToken);
		expect(await connections()).toBe(before + 1);

		socket.disconnect();
		await until(async () => (await connections()) === before, "the gauge to fall back", 5_000);
	});

	it("reports this process's own CPU time, not only the machine's", async () => {
		const text = await scrape();

		expect(sample(text, /^process_cpu_seconds_total\{[^}]*\} ([\d.e-]+)$/m)).toBeGreaterThan(0);
		expect(text).toMatch(/^process_cpu_utilization\{[^}]*\} [\d.]+$/m);
	});
});

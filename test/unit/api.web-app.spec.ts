import type { ServiceBroker } from "moleculer";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request, type IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiService, gatewayUrl, testBroker, usersService } from "../support/platform";

const INDEX_HTML = '<!doctype html><html><head><script type="module" src="/assets/app-1a2b3c.js"></script></head><body><div id="root"></div></body></html>';
const APP_JS = 'document.getElementById("root").textContent = "Colony";';
const SERVICE_WORKER = 'self.addEventListener("fetch", () => {});';
const MANIFEST = JSON.stringify({ name: "Colony", start_url: "/", display: "standalone" });
const PROJECT_SECRET = "the project's own package.json, two folders above the web root";

const CONTENT_SECURITY_POLICY =
	"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; " +
	"connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

interface RawAnswer {
	status: number;
	headers: IncomingHttpHeaders;
	body: string;
}

interface Gateway {
	broker: ServiceBroker;
	baseUrl: string;
	warnings: string[];
}

/** The users service and a gateway serving `webRoot`, with the warnings the gateway logged while starting. */
async function startGateway(webRoot: string): Promise<Gateway> {
	const broker = testBroker();
	broker.createService(usersService());
	const api = broker.createService(apiService({ webRoot }));
	const warn = jest.spyOn(api.logger, "warn");
	await broker.start();
	const warnings = warn.mock.calls.map((args) => args.join(" "));
	return { broker, baseUrl: gatewayUrl(broker), warnings };
}

/** Sends the path exactly as written: fetch would resolve `..` and `%2e%2e` before sending it. */
function send(baseUrl: string, path: string, method = "GET", headers: Record<string, string> = {}): Promise<RawAnswer> {
	const { hostname, port } = new URL(baseUrl);
	return new Promise((resolve, reject) => {
		const req = request({ hostname, port, path, method, headers, timeout: 10_000 }, (res) => {
			let body = "";
			res.setEncoding("utf8");
			res.on("data", (chunk: string) => (body += chunk));
			res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
		});
		req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
		req.on("error", reject);
		req.end();
	});
}

describe("the web app served by the gateway", () => {
	let project: string;
	let gateway: Gateway;
	const get = (path: string, method?: string) => send(gateway.baseUrl, path, method);

	beforeAll(async () => {
		project = await mkdtemp(join(tmpdir(), "colony-web-"));
		const webRoot = join(project, "web", "dist");
		await mkdir(join(webRoot, "assets"), { recursive: true });
		await writeFile(join(project, "package.json"), JSON.stringify({ name: PROJECT_SECRET }));
		await writeFile(join(webRoot, "index.html"), INDEX_HTML);
		await writeFile(join(webRoot, "assets", "app-1a2b3c.js"), APP_JS);
		await writeFile(join(webRoot, "sw.js"), SERVICE_WORKER);
		await writeFile(join(webRoot, "manifest.webmanifest"), MANIFEST);
		gateway = await startGateway(webRoot);
	});
	afterAll(async () => {
		await gateway.broker.stop();
		await rm(project, { recursive: true, force: true });
	});

	it("serves its own page's module scripts and API calls though the browser sends Origin; other origins stay refused", async () => {
		const own = new URL(gateway.baseUrl).origin;
		expect((await send(gateway.baseUrl, "/assets/app-1a2b3c.js", "GET", { origin: own })).status).toBe(200);
		expect((await send(gateway.baseUrl, "/api/v1/users/me", "GET", { origin: own })).status).toBe(401);
		expect((await send(gateway.baseUrl, "/assets/app-1a2b3c.js", "GET", { origin: "https://evil.example" })).status).toBe(403);
		expect((await send(gateway.baseUrl, "/api/v1/users/me", "GET", { origin: "https://evil.example" })).status).toBe(403);
	});

	it("serves index.html at /, asking the browser to check it again each time", async () => {
		const answer = await get("/");

		expect(answer.status).toBe(200);
		expect(answer.headers["content-type"]).toBe("text/html; charset=utf-8");
		expect(answer.body).toBe(INDEX_HTML);
		expect(answer.headers["cache-control"]).toBe("no-cache");
		expect(gateway.warnings.filter((warning) => warning.includes("npm run build:web"))).toEqual([]);
	});

	it("serves a content-hashed file under /assets/ as JavaScript that browsers keep for a year", async () => {
		const answer = await get("/assets/app-1a2b3c.js");

		expect(answer.status).toBe(200);
		expect(answer.headers["content-type"]).toMatch(/^(text|application)\/javascript/);
		expect(answer.body).toBe(APP_JS);
		expect(answer.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
	});

	it("serves the service worker as JavaScript allowed to control the whole app, never cached for good", async () => {
		const answer = await get("/sw.js");

		expect(answer.status).toBe(200);
		expect(answer.headers["content-type"]).toMatch(/^(text|application)\/javascript/);
		expect(answer.body).toBe(SERVICE_WORKER);
		expect(answer.headers["service-worker-allowed"]).toBe("/");
		expect(answer.headers["cache-control"]).toBe("no-cache");
	});

	it("serves the web manifest as one, never cached for good", async () => {
		const answer = await get("/manifest.webmanifest");

		expect(answer.status).toBe(200);
		expect(answer.headers["content-type"]).toMatch(/^application\/manifest\+json/);
		expect(answer.body).toBe(MANIFEST);
		expect(answer.headers["cache-control"]).toBe("no-cache");
	});

	it.each(["/channels/3", "/tasks/12", "/settings/notifications", "/channels/3?highlight=9"])(
		"answers the app's route %s with index.html, so a reload or a shared link opens the app there",
		async (path) => {
			const answer = await get(path);

			expect(answer.status).toBe(200);
			expect(answer.headers["content-type"]).toBe("text/html; charset=utf-8");
			expect(answer.body).toBe(INDEX_HTML);
			expect(answer.headers["cache-control"]).toBe("no-cache");
		},
	);

	it("answers HEAD for an app route like GET, without the body", async () => {
		const answer = await get("/tasks/12", "HEAD");

		expect(answer.status).toBe(200);
		expect(answer.headers["content-type"]).toBe("text/html; charset=utf-8");
		expect(answer.body).toBe("");
	});

	it.each([
		["a missing file under /assets/", "GET", "/assets/missing.js"],
		["a missing file at the top", "GET", "/missing.png"],
		["a dotfile", "GET", "/.env"],
		["an unknown API route", "GET", "/api/v1/nowhere"],
		["the API prefix itself", "GET", "/api/v1"],
		["the web app's page under the API prefix", "GET", "/api/v1/index.html"],
		["an asset under the API prefix", "GET", "/api/v1/assets/app-1a2b3c.js"],
		["an unknown health path", "GET", "/health/nowhere"],
		["an unknown metrics path", "GET", "/metrics/nowhere"],
		["a write to an app route", "POST", "/channels/3"],
	])("answers %s with a 404 error, not the app's page", async (_case, method, path) => {
		const answer = await get(path, method);

		expect(answer.status).toBe(404);
		expect(answer.headers["content-type"]).toBe("application/json; charset=utf-8");
		expect(JSON.parse(answer.body)).toMatchObject({ code: 404 });
	});

	it.each([
		"/../../package.json",
		"/..%2f..%2fpackage.json",
		"/%2e%2e/%2e%2e/package.json",
		"/%2e%2e%2f%2e%2e%2fpackage.json",
		"/..%5c..%5cpackage.json",
		"/assets/..%2f..%2f..%2fpackage.json",
		"/assets/%2e%2e/%2e%2e/%2e%2e/package.json",
	])("never serves a file outside the web root for %s", async (path) => {
		const answer = await get(path);

		expect(answer.status).toBe(404);
		expect(answer.body).not.toContain(PROJECT_SECRET);
	});

	it.each([
		["an asset", "/assets/app-1a2b3c.js", 200],
		["the app's page for a route", "/channels/3", 200],
		["a missing file", "/assets/missing.js", 404],
		["an API answer", "/api/v1/users/me", 401],
	])("sends the security headers with %s", async (_case, path, status) => {
		const answer = await get(path);

		expect(answer.status).toBe(status);
		expect(answer.headers["content-security-policy"]).toBe(CONTENT_SECURITY_POLICY);
		expect(answer.headers["x-content-type-options"]).toBe("nosniff");
		expect(answer.headers["referrer-policy"]).toBe("no-referrer");
		expect(answer.headers["x-frame-options"]).toBe("DENY");
		expect(answer.headers["cross-origin-opener-policy"]).toBe("same-origin");
		expect(answer.headers["permissions-policy"]).toBe("camera=(), microphone=(), geolocation=()");
	});

	it("keeps API answers out of every cache", async () => {
		const answer = await get("/api/v1/users/me");

		expect(answer.headers["cache-control"]).toBe("no-store");
	});
});

describe("the gateway without a built web app", () => {
	let emptyWebRoot: string;
	let gateway: Gateway;
	const get = (path: string) => send(gateway.baseUrl, path);

	beforeAll(async () => {
		emptyWebRoot = await mkdtemp(join(tmpdir(), "colony-web-unbuilt-"));
		gateway = await startGateway(emptyWebRoot);
	});
	afterAll(async () => {
		await gateway.broker.stop();
		await rm(emptyWebRoot, { recursive: true, force: true });
	});

	it.each(["/", "/channels/3"])("answers %s with 503 WEB_APP_NOT_BUILT, naming the command that builds it", async (path) => {
		const answer = await get(path);

		expect(answer.status).toBe(503);
		expect(answer.headers["content-type"]).toBe("application/json; charset=utf-8");
		expect(answer.headers["content-security-policy"]).toBe(CONTENT_SECURITY_POLICY);
		const body = JSON.parse(answer.body) as { name: string; message: string; code: number; type: string };
		expect(body).toMatchObject({ name: "ServiceUnavailableError", code: 503, type: "WEB_APP_NOT_BUILT" });
		expect(body.message).toContain("npm run build:web");
	});

	it("answers a missing file with 404", async () => {
		expect((await get("/assets/app-1a2b3c.js")).status).toBe(404);
	});

	it("still serves the API and the health checks", async () => {
		expect((await get("/api/v1/users/me")).status).toBe(401);
		expect((await get("/health/live")).status).toBe(200);
	});

	it("warns once at start, naming the command that builds the web app", () => {
		const aboutTheWebApp = gateway.warnings.filter((warning) => warning.includes("npm run build:web"));

		expect(aboutTheWebApp).toHaveLength(1);
		expect(aboutTheWebApp[0]).toContain(emptyWebRoot);
	});
});

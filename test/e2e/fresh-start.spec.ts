import { randomBytes } from "node:crypto";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { OllamaTestServer } from "../support/ollama-server";
import { RestClient } from "../support/platform";

const SERVER = resolve(__dirname, "../../dist/server.js");

/** The environment of a fresh machine: none of the platform's variables, not even the test secrets. */
function bareEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
	const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
	return env;
}

function startServer(cwd: string, extra: Record<string, string>): { child: ChildProcess; output: () => string } {
	let output = "";
	const child = spawn(process.execPath, [SERVER], { cwd, env: bareEnv(extra) });
	child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
	child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
	return { child, output: () => output };
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		const value = probe();
		if (value !== undefined) return value;
		await new Promise((r) => setTimeout(r, 100));
	}
	throw new Error(`timed out waiting for ${what}`);
}

async function waitForAsync<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		const value = await probe();
		if (value !== undefined) return value;
		await new Promise((r) => setTimeout(r, 100));
	}
	throw new Error(`timed out waiting for ${what}`);
}

function exitCode(child: ChildProcess): Promise<number | null> {
	return new Promise((resolveExit) => child.once("exit", (code) => resolveExit(code)));
}

describe("npm start on a fresh machine", () => {
	const workdir = mkdtempSync(join(tmpdir(), "colony-start-"));

	beforeAll(() => {
		if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: run 'npm run build' (npm test does) first`);
	});
	afterAll(() => rmSync(workdir, { recursive: true, force: true }));

	it("runs every service in one process on embedded defaults and serves register, login and me", async () => {
		const server = startServer(workdir, { PORT: "0", LOG_LEVEL: "info", LOG_DIR: join(workdir, "logs") });
		let issuedToken = "";
		try {
			const port = await waitFor(
				() => /API Gateway listening on http:\/\/[^:]+:(\d+)/.exec(server.output())?.[1],
				20_000,
				"the gateway to listen",
			);
			await waitFor(() => (server.output().includes("started successfully") ? true : undefined), 20_000, "the broker");
			expect(server.output()).toMatch(/development-only secrets/);

			const client = new RestClient(`http://127.0.0.1:${port}`);
			expect((await client.register("first")).body).toMatchObject({ user: { username: "first", roles: ["admin"] } });
			const { accessToken } = await client.login("first@example.com");
			expect((await client.get("/api/v1/users/me", accessToken)).body).toMatchObject({ username: "first" });
			expect((await client.get("/health/ready")).status).toBe(200);

			// The web app, at / and at any of its own paths, under the strict CSP.
			for (const path of ["/", "/channels/3"]) {
				const page = await fetch(`http://127.0.0.1:${port}${path}`);
				expect(page.status).toBe(200);
				expect(await page.text()).toContain('<div id="root"></div>');
				expect(page.headers.get("content-security-policy")).toContain("script-src 'self';");
			}

			expect(existsSync(join(workdir, "data", "users.sqlite"))).toBe(true);
			const secrets = readFileSync(join(workdir, "data", "dev-secrets.json"), "utf8");
			expect(server.output()).not.toContain(JSON.parse(secrets).jwtSecret);
			issuedToken = accessToken;
		} finally {
			server.child.kill("SIGTERM");
			await exitCode(server.child);
		}

		// Read after the stop, which flushes the file loggers.
		const logs = (prefix: string) =>
			readdirSync(join(workdir, "logs"))
				.filter((name) => name.startsWith(prefix))
				.map((name) => readFileSync(join(workdir, "logs", name), "utf8"))
				.join("");
		expect(logs("access-")).toContain("/api/v1/users/me");
		expect(logs("app-")).toContain("started successfully");
		expect(logs("app-")).not.toContain("/api/v1/users/me");
		// Traces: the gateway's span of GET /users/me and the users.me span under it, in one trace.
		const spans = logs("traces-")
			.split("\n")
			.filter(Boolean)
			.map((line) => JSON.parse(line) as { traceID: string; spanID: string; parentID: string | null; name: string; durationMs: number });
		const me = spans.find((span) => span.name === "action 'users.me'");
		expect(me).toBeDefined();
		expect(spans.some((span) => span.traceID === me?.traceID && span.spanID !== me?.spanID)).toBe(true);
		expect(me?.durationMs).toBeGreaterThan(0);
		for (const secret of ["correct horse battery", issuedToken]) expect(logs("")).not.toContain(secret);
	});

	it("runs everything else when no Ollama answers, and the AI routes answer 503 with the reason", async () => {
		// A port nothing listens on: the GPU host is down or was never there.
		const closed = await OllamaTestServer.start();
		const nowhere = closed.url;
		await closed.stop();
		const server = startServer(workdir, { PORT: "0", LOG_LEVEL: "info", OLLAMA_HOST: nowhere, DATA_DIR: join(workdir, "no-ai") });
		try {
			const port = await waitFor(() => /API Gateway listening on http:\/\/[^:]+:(\d+)/.exec(server.output())?.[1], 20_000, "the gateway to listen");
			await waitFor(() => (server.output().includes("started successfully") ? true : undefined), 20_000, "the broker");
			const client = new RestClient(`http://127.0.0.1:${port}`);
			const { accessToken } = await client.signUp("ada");

			const chat = await client.post("/api/v1/ai/chat", { messages: [{ role: "user", content: "hello" }] }, accessToken);
			expect(chat.status).toBe(503);
			expect(chat.body).toMatchObject({ type: "AI_UNAVAILABLE", message: expect.stringMatching(/No AI host can answer/) });
			expect((await client.post("/api/v1/ai/ask", { question: "anything?" }, accessToken)).status).toBe(503);

			// Chat works, and the assistant says it cannot answer rather than staying silent.
			const channel = (await client.post<{ channel: { id: number } }>("/api/v1/channels", { name: "general", type: "public" }, accessToken)).body.channel;
			const asked = await client.post<{ message: { id: number } }>(`/api/v1/channels/${channel.id}/messages`, { text: "@ai are you there?" }, accessToken);
			expect(asked.status).toBe(201);
			const reply = await waitForAsync(async () => {
				const items = (await client.get<{ items: { id: number; text: string }[] }>(`/api/v1/channels/${channel.id}/messages`, accessToken)).body.items;
				return items.find((message) => message.id > asked.body.message.id);
			}, 20_000, "the assistant's reply");
			expect(reply.text).toMatch(/AI assistant is unavailable right now/);
		} finally {
			server.child.kill("SIGTERM");
			await exitCode(server.child);
		}
	});

	it("answers over a real Ollama wire protocol and writes the AI request log without prompts", async () => {
		const ollama = await OllamaTestServer.start({ latencyMs: 5 });
		const logDir = join(workdir, "ai-logs");
		const server = startServer(workdir, { PORT: "0", LOG_LEVEL: "info", LOG_DIR: logDir, OLLAMA_HOST: ollama.url, DATA_DIR: join(workdir, "with-ai") });
		let userId = 0;
		try {
			const port = await waitFor(() => /API Gateway listening on http:\/\/[^:]+:(\d+)/.exec(server.output())?.[1], 20_000, "the gateway to listen");
			await waitFor(() => (server.output().includes("started successfully") ? true : undefined), 20_000, "the broker");
			const client = new RestClient(`http://127.0.0.1:${port}`);
			const ada = await client.signUp("ada");
			userId = ada.id;
			const answer = await client.post<{ message: { content: string }; usage: { outputTokens: number } }>(
				"/api/v1/ai/chat",
				{ messages: [{ role: "user", content: "the secret recipe is cardamom" }] },
				ada.accessToken,
			);
			expect(answer.status).toBe(200);
			expect(answer.body.usage.outputTokens).toBeGreaterThan(0);
			const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
			expect(metrics).toMatch(/colony_ai_inference_seconds_bucket\{[^}]*model="llama3.2[^}]*\} [1-9]/);
			expect(metrics).toMatch(/colony_ai_tokens_per_second_bucket\{[^}]*model="llama3.2"[^}]*le="\+Inf"\} [1-9]/);
			expect(metrics).toMatch(/colony_ai_queue_length\{[^}]*\} 0/);
		} finally {
			server.child.kill("SIGTERM");
			await exitCode(server.child);
			await ollama.stop();
		}
		const lines = readdirSync(logDir)
			.filter((name) => name.startsWith("ai-"))
			.flatMap((name) => readFileSync(join(logDir, name), "utf8").trim().split("\n"));
		// One JSON record per line, per request: who, what, where, how long, how many tokens, how it ended.
		const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
		expect(records).toContainEqual(
			expect.objectContaining({
				user: userId,
				action: "ai.chat",
				model: "llama3.2",
				host: expect.any(String),
				latencyMs: expect.any(Number),
				promptTokens: expect.any(Number),
				outputTokens: expect.any(Number),
				outcome: "ok",
			}),
		);
		expect(lines.join("\n")).not.toContain("cardamom");
	});

	it("logs in production one JSON record per line on stdout, with its level, module and message, for a log collector", async () => {
		const closed = await OllamaTestServer.start();
		const nowhere = closed.url;
		await closed.stop();
		const secrets = { JWT_SECRET: randomBytes(48).toString("base64"), DATA_KEY: randomBytes(32).toString("base64") };
		const server = startServer(workdir, { PORT: "0", NODE_ENV: "production", ...secrets, OLLAMA_HOST: nowhere, DATA_DIR: join(workdir, "production") });
		try {
			await waitFor(() => (server.output().includes("started successfully") ? true : undefined), 20_000, "the broker");
			await waitFor(() => (server.output().includes("is not answering") ? true : undefined), 20_000, "the AI host warning");
		} finally {
			server.child.kill("SIGTERM");
			await exitCode(server.child);
		}

		const records = server.output().split("\n").filter(Boolean).map((line) => JSON.parse(line) as { level: string; time: string; mod: string; msg: string });
		expect(records.length).toBeGreaterThan(10);
		for (const record of records) {
			expect(["trace", "debug", "info", "warn", "error", "fatal"]).toContain(record.level);
			expect(Number.isNaN(Date.parse(record.time))).toBe(false);
		}
		expect(records).toContainEqual(expect.objectContaining({ level: "warn", mod: "ai", msg: expect.stringContaining(`The Ollama at ${nowhere} is not answering`) }));
		expect(server.output()).not.toContain(secrets.JWT_SECRET);
	});

	it("refuses to start in production without JWT_SECRET and DATA_KEY", async () => {
		const server = startServer(workdir, { PORT: "0", NODE_ENV: "production" });
		expect(await exitCode(server.child)).not.toBe(0);
		expect(server.output()).toMatch(/JWT_SECRET and DATA_KEY must be set when NODE_ENV=production/);
	});
});

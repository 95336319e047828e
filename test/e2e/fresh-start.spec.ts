import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
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
		for (const secret of ["correct horse battery", issuedToken]) expect(logs("")).not.toContain(secret);
	});

	it("refuses to start in production without JWT_SECRET and DATA_KEY", async () => {
		const server = startServer(workdir, { PORT: "0", NODE_ENV: "production" });
		expect(await exitCode(server.child)).not.toBe(0);
		expect(server.output()).toMatch(/JWT_SECRET and DATA_KEY must be set when NODE_ENV=production/);
	});
});

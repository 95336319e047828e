import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";

const SERVER = resolve(__dirname, "../../dist/server.js");

/** A Colony node in a process of its own, started from the build as production would run it. */
export class NodeProcess {
	private child?: ChildProcess;
	private log = "";

	/** `args` are what node runs: the build's server by default, or e.g. moleculer-runner on the build. */
	constructor(
		readonly name: string,
		private readonly env: Record<string, string>,
		private readonly args: string[] = [SERVER],
	) {}

	get output(): string {
		return this.log;
	}

	/** Starts the node; resolves once its broker started, with the gateway's port or the health listener's. */
	async start(timeoutMs = 20_000): Promise<{ port?: number; healthPort?: number }> {
		if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: run 'npm run build' (npm test does) first`);
		this.log = "";
		const child = spawn(process.execPath, this.args, {
			env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: "info", ...this.env },
			stdio: ["ignore", "pipe", "pipe"],
		});
		this.child = child;
		child.stdout?.on("data", (chunk: Buffer) => (this.log += chunk.toString()));
		child.stderr?.on("data", (chunk: Buffer) => (this.log += chunk.toString()));
		const deadline = Date.now() + timeoutMs;
		const ready = () => this.log.includes("started successfully") && /listening on http/.test(this.log);
		while (!ready()) {
			if (child.exitCode !== null) throw new Error(`${this.name} exited during start:\n${this.log}`);
			if (Date.now() > deadline) throw new Error(`${this.name} did not start in ${timeoutMs} ms:\n${this.log}`);
			await new Promise((r) => setTimeout(r, 50));
		}
		const port = /API Gateway listening on http:\/\/[^:]+:(\d+)/.exec(this.log)?.[1];
		const healthPort = /Health and metrics listening on http:\/\/[^:]+:(\d+)/.exec(this.log)?.[1];
		return { port: port ? Number(port) : undefined, healthPort: healthPort ? Number(healthPort) : undefined };
	}

	/** Ends the process at once, as a crash or an OOM kill would: nothing is released or flushed. */
	async kill(): Promise<void> {
		await this.signal("SIGKILL");
	}

	async stop(): Promise<void> {
		await this.signal("SIGTERM");
	}

	private async signal(signal: NodeJS.Signals): Promise<void> {
		const child = this.child;
		if (!child || child.exitCode !== null || child.signalCode !== null) return;
		const exited = new Promise((r) => child.once("exit", r));
		child.kill(signal);
		await exited;
	}
}

/** Checks a node's own health listener: ready, with its transport and database up, and its metrics served. */
export async function expectServingHealth(healthUrl: string, nodeID: string, database: string): Promise<void> {
	const ready = await fetch(`${healthUrl}/health/ready`, { signal: AbortSignal.timeout(5_000) });
	expect(ready.status).toBe(200);
	expect(await ready.json()).toMatchObject({ status: "ready", nodeID, checks: { transporter: true, [`database:${database}`]: true } });
	const metrics = await (await fetch(`${healthUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
	expect(metrics).toMatch(new RegExp(`moleculer_broker_started\\{[^}]*nodeID="${nodeID}"[^}]*\\} 1`));
}

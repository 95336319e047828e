import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { isReachable } from "./servers";

export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address() as { port: number };
			server.close(() => resolve(port));
		});
	});
}

/** A Redis server of the test's own (the machine's redis-server binary), so it can be killed and restarted. */
export class PrivateRedis {
	private child?: ChildProcess;

	private constructor(readonly port: number) {}

	static async start(): Promise<PrivateRedis> {
		const redis = new PrivateRedis(await freePort());
		await redis.restart();
		return redis;
	}

	get url(): string {
		return `redis://127.0.0.1:${this.port}`;
	}

	/** Ends the server at once, as a crash would: nothing is saved. */
	async kill(): Promise<void> {
		const child = this.child;
		if (!child || child.exitCode !== null || child.signalCode !== null) return;
		const exited = new Promise((resolve) => child.once("exit", resolve));
		child.kill("SIGKILL");
		await exited;
	}

	/** Freezes the server (SIGSTOP): connections stay open, nothing answers, and the data is kept. */
	pause(): void {
		this.child?.kill("SIGSTOP");
	}

	resume(): void {
		this.child?.kill("SIGCONT");
	}

	async restart(): Promise<void> {
		await this.kill();
		this.child = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
			stdio: "ignore",
		});
		for (let i = 0; i < 100; i++) {
			if (await isReachable(this.url, 200)) return;
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
		throw new Error(`redis-server did not start on port ${this.port}`);
	}
}

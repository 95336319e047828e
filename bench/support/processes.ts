import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { performance } from "node:perf_hooks";

const TAIL_LINES = 40;

/** A Node script the bench runs as a child process, with the last lines it wrote kept for error reports. */
export class NodeProcess {
	readonly child: ChildProcess;
	readonly exited: Promise<void>;
	/** Rejects when the process ends before `stop` was asked for: a crashed node fails the bench at once. */
	readonly crashed: Promise<never>;
	private readonly lines: string[] = [];
	private readonly lineWaiters = new Set<(line: string) => void>();
	private stopping = false;

	constructor(
		readonly name: string,
		script: string,
		env: NodeJS.ProcessEnv,
	) {
		// BENCH_PROFILE_DIR: each node writes a V8 CPU profile there when it stops (open it in Chrome DevTools).
		const profile = process.env.BENCH_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
		// BENCH_NODE_OPTIONS: the nodes' NODE_OPTIONS (a heap limit, as a container's would be), not the bench client's.
		const nodeOptions = process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {};
		this.child = spawn(process.execPath, [...profile, script], { env: { ...env, ...nodeOptions }, stdio: ["ignore", "pipe", "pipe"] });
		for (const stream of [this.child.stdout, this.child.stderr]) {
			let partial = "";
			stream?.setEncoding("utf8");
			stream?.on("data", (chunk: string) => {
				const parts = (partial + chunk).split("\n");
				partial = parts.pop() ?? "";
				for (const line of parts) this.remember(line);
			});
		}
		this.exited = new Promise((resolve) => {
			this.child.once("exit", () => resolve());
			this.child.once("error", () => resolve());
		});
		this.crashed = new Promise<never>((_, reject) => {
			const fail = (why: string) => {
				if (!this.stopping) reject(new Error(`${this.name} ${why}; its last output:\n${this.tail() || "(none)"}`));
			};
			this.child.once("exit", (code, signal) => fail(`exited early (${signal ?? `code ${code}`})`));
			this.child.once("error", (err) => fail(`could not start: ${err.message}`));
		});
		// Observed through Promise.race by whoever runs the bench; never an unhandled rejection on its own.
		this.crashed.catch(() => undefined);
	}

	get pid(): number | undefined {
		return this.child.pid;
	}

	get running(): boolean {
		return this.child.exitCode === null && this.child.signalCode === null;
	}

	tail(): string {
		return this.lines.join("\n");
	}

	/** The first line (already written or still to come) matching `pattern`. */
	waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
		const seen = this.lines.map((line) => line.match(pattern)).find(Boolean);
		if (seen) return Promise.resolve(seen);
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.lineWaiters.delete(waiter);
				reject(new Error(`${this.name} wrote no line matching ${pattern} within ${timeoutMs} ms:\n${this.tail()}`));
			}, timeoutMs);
			const waiter = (line: string) => {
				const match = line.match(pattern);
				if (!match) return;
				clearTimeout(timer);
				this.lineWaiters.delete(waiter);
				resolve(match);
			};
			this.lineWaiters.add(waiter);
		});
	}

	/** SIGTERM, so the broker stops its services; SIGKILL if it is still there after the grace period. */
	async stop(graceMs = 8_000): Promise<void> {
		this.stopping = true;
		if (!this.running || this.child.pid === undefined) return;
		this.child.kill("SIGTERM");
		if (await settlesWithin(this.exited, graceMs)) return;
		this.child.kill("SIGKILL");
		await settlesWithin(this.exited, 2_000);
	}

	/** The last resort when the bench itself is exiting: synchronous, no grace. */
	killNow(): void {
		this.stopping = true;
		if (this.running) this.child.kill("SIGKILL");
	}

	private remember(line: string): void {
		this.lines.push(line);
		if (this.lines.length > TAIL_LINES) this.lines.shift();
		for (const waiter of [...this.lineWaiters]) waiter(line);
	}
}

async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<boolean>((resolve) => {
		timer = setTimeout(() => resolve(false), ms);
	});
	try {
		return await Promise.race([promise.then(() => true), timeout]);
	} finally {
		clearTimeout(timer);
	}
}

/** A port on 127.0.0.1 free right now; the bench hands it to a child that listens on it a moment later. */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			const port = typeof address === "object" && address ? address.port : 0;
			server.close(() => resolve(port));
		});
	});
}

export function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs: number, intervalMs = 250): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (await check().catch(() => false)) return;
		await sleep(intervalMs);
	}
	throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
}

// Linux reports CPU time in clock ticks of 1/100 s (USER_HZ) on every mainstream architecture.
const TICKS_PER_SECOND = 100;

/** User plus system CPU seconds a process has used, from /proc; undefined where there is no /proc. */
export function cpuSeconds(pid: number): number | undefined {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		// The command name in parentheses may contain spaces; the fields after it are fixed.
		const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
	} catch {
		return undefined;
	}
}

/** CPU seconds the whole machine has spent busy (all cores, every process, the kernel), from /proc/stat. */
export function machineBusySeconds(): number | undefined {
	try {
		const [, user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).map(Number);
		return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
	} catch {
		return undefined;
	}
}

/** The servers the benches measure beside Colony's own processes, by process name. */
export const SERVER_PROCESS_NAMES: Record<string, string> = {
	"nats-server": "NATS",
	"redis-server": "Redis",
	mariadbd: "MariaDB",
	mysqld: "MariaDB",
};

/** Runs a bench's main and exits with its code; a failure is printed in one line with the bench's name. */
export function runBench(name: string, main: () => Promise<number>): void {
	main().then(
		(code) => process.exit(code),
		(err: Error) => {
			console.error(`\nbench:${name} failed: ${err.stack ?? err.message}`);
			process.exit(1);
		},
	);
}

/** Running processes whose command name is one of `names` (e.g. the local NATS, Redis and MariaDB servers). */
export function findProcesses(names: Record<string, string>): { label: string; pid: number }[] {
	const found: { label: string; pid: number }[] = [];
	let entries: string[];
	try {
		entries = readdirSync("/proc").filter((entry) => /^\d+$/.test(entry));
	} catch {
		return found;
	}
	for (const entry of entries) {
		try {
			const label = names[readFileSync(`/proc/${entry}/comm`, "utf8").trim()];
			if (label) found.push({ label, pid: Number(entry) });
		} catch {
			// The process ended while the list was read.
		}
	}
	return found;
}

export interface CpuShare {
	label: string;
	/** Of one core: 100 is one core busy for the whole window. */
	percent: number;
}

export const OTHER_LOAD = "other load on the machine";

/**
 * CPU used by a set of processes over a window, from their /proc counters at its start and end, plus whatever
 * else kept the machine busy meanwhile: a busy neighbour skews a benchmark, and the report should say so.
 */
export class CpuMeter {
	private startedAt = 0;
	private before: (number | undefined)[] = [];
	private machineBefore: number | undefined;

	constructor(private readonly targets: { label: string; pid: number }[]) {}

	start(): void {
		this.startedAt = performance.now();
		this.before = this.targets.map((target) => cpuSeconds(target.pid));
		this.machineBefore = machineBusySeconds();
	}

	stop(): CpuShare[] {
		const seconds = (performance.now() - this.startedAt) / 1_000;
		const shares: CpuShare[] = [];
		this.targets.forEach((target, i) => {
			const before = this.before[i];
			const after = cpuSeconds(target.pid);
			if (before === undefined || after === undefined || seconds <= 0) return;
			const existing = shares.find((share) => share.label === target.label);
			const percent = ((after - before) / seconds) * 100;
			if (existing) existing.percent += percent;
			else shares.push({ label: target.label, percent });
		});
		const machineAfter = machineBusySeconds();
		if (this.machineBefore !== undefined && machineAfter !== undefined && seconds > 0) {
			const machinePercent = ((machineAfter - this.machineBefore) / seconds) * 100;
			const tracked = shares.reduce((sum, share) => sum + share.percent, 0);
			shares.push({ label: OTHER_LOAD, percent: Math.max(0, machinePercent - tracked) });
		}
		return shares;
	}
}

/**
 * Waits, at most `maxWaitMs`, until the machine was less than `busyBelow` busy over one second, so a burst of
 * unrelated work does not land in a measured window. Answers the last busy fraction seen (undefined without /proc).
 */
export async function waitForQuietMachine(cores: number, maxWaitMs: number, busyBelow = 0.15): Promise<number | undefined> {
	const deadline = performance.now() + maxWaitMs;
	let busy: number | undefined;
	do {
		const before = machineBusySeconds();
		const startedAt = performance.now();
		await sleep(1_000);
		const after = machineBusySeconds();
		if (before === undefined || after === undefined) return undefined;
		busy = (after - before) / ((performance.now() - startedAt) / 1_000) / cores;
		if (busy < busyBelow) return busy;
	} while (performance.now() < deadline);
	return busy;
}

export interface MemoryUse {
	/** Resident set now (VmRSS), MiB. */
	rssMiB: number;
	/** The highest resident set the process has had (VmHWM), MiB. */
	peakMiB: number;
}

/** A process's resident memory from /proc/<pid>/status; undefined where there is no /proc or the process is gone. */
export function memoryUse(pid: number): MemoryUse | undefined {
	try {
		const status = readFileSync(`/proc/${pid}/status`, "utf8");
		const kib = (field: string) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1] ?? Number.NaN);
		const [rss, peak] = [kib("VmRSS"), kib("VmHWM")];
		if (Number.isNaN(rss) || Number.isNaN(peak)) return undefined;
		return { rssMiB: rss / 1024, peakMiB: peak / 1024 };
	} catch {
		return undefined;
	}
}

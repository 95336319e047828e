import { spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";

export interface WrkSettings {
	threads: number;
	connections: number;
	/** wrk counts whole seconds: this is rounded to them, and to at least one. */
	durationMs: number;
	headers: Record<string, string>;
	/**
	 * Servers to spread wrk's threads over, round robin (thread 1 to the first, thread 2 to the second…), all asked
	 * for the URL's path: one client, one latency distribution, several gateways. Without it, the URL's server.
	 */
	spreadOver?: { host: string; port: number }[];
}

export interface WrkResult {
	requests: number;
	requestsPerSecond: number;
	p50Ms: number;
	p99Ms: number;
	/** Answers with a status outside 2xx and 3xx. */
	non2xx: number;
	/** Connect, read and write errors and timeouts. */
	socketErrors: number;
}

/** A wrk run under way: its pid, so its CPU can be measured, and its parsed output when it ends. */
export interface WrkRun {
	pid: number | undefined;
	result: Promise<WrkResult>;
	/** Ends the run early (cleanup after a failure); its result then rejects. */
	kill(): void;
}

export const WRK_INSTALL_HINT = "wrk is not installed: install it with `apt-get install -y wrk` (Debian, Ubuntu) and run the bench again";

// Slow answers are measured as latency rather than dropped as timeouts (wrk's default is 2 s).
const TIMEOUT = "10s";

/** The wrk executable on the PATH, or undefined. */
export function findWrk(): string | undefined {
	for (const dir of (process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
		const candidate = join(dir, "wrk");
		try {
			accessSync(candidate, constants.X_OK);
			return candidate;
		} catch {
			// Not in this directory.
		}
	}
	return undefined;
}

export function wrkSeconds(ms: number): number {
	return Math.max(1, Math.round(ms / 1_000));
}

export function runWrk(wrk: string, url: string, settings: WrkSettings): WrkRun {
	const script = settings.spreadOver?.length ? spreadScript(settings.spreadOver) : undefined;
	const args = [
		`--threads=${settings.threads}`,
		`--connections=${settings.connections}`,
		`--duration=${wrkSeconds(settings.durationMs)}s`,
		`--timeout=${TIMEOUT}`,
		"--latency",
		...Object.entries(settings.headers).flatMap(([name, value]) => ["--header", `${name}: ${value}`]),
		...(script ? ["--script", script] : []),
		url,
	];
	const child = spawn(wrk, args, { stdio: ["ignore", "pipe", "pipe"] });
	let output = "";
	child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
	child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
	const result = new Promise<WrkResult>((resolve, reject) => {
		child.once("error", (err) => reject(new Error(`wrk could not start: ${err.message}`)));
		child.once("close", (code, signal) => {
			if (script) rmSync(dirname(script), { recursive: true, force: true });
			if (code === 0) {
				try {
					resolve(parseWrkOutput(output));
				} catch (err) {
					reject(err as Error);
				}
			} else reject(new Error(`wrk ended with ${signal ?? `code ${code}`}:\n${output.trim()}`));
		});
	});
	const kill = () => {
		if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
	};
	return { pid: child.pid, result, kill };
}

/** A wrk Lua script whose setup() points each thread at the next of `servers` (wrk's documented `thread.addr`). */
function spreadScript(servers: { host: string; port: number }[]): string {
	const targets = servers.map(({ host, port }) => `{ "${host}", "${port}" }`).join(", ");
	const script = join(mkdtempSync(join(tmpdir(), "colony-wrk-")), "spread.lua");
	writeFileSync(
		script,
		[
			`local targets = { ${targets} }`,
			"local threads = 0",
			"function setup(thread)",
			"  local target = targets[threads % #targets + 1]",
			"  threads = threads + 1",
			"  thread.addr = wrk.lookup(target[1], target[2])[1]",
			"end",
			"",
		].join("\n"),
	);
	return script;
}

const TIME_UNITS_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

function toMs(value: string, unit: string): number {
	return Number(value) * TIME_UNITS_MS[unit];
}

function latencyPercentile(output: string, percent: number): number {
	const match = output.match(new RegExp(`^\\s*${percent}(?:\\.0+)?%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, "m"));
	if (!match) throw new Error(`wrk printed no ${percent}% latency (was --latency given?):\n${output.trim()}`);
	return toMs(match[1], match[2]);
}

/** The numbers of wrk's report; the percentiles come from its "Latency Distribution" block. */
export function parseWrkOutput(output: string): WrkResult {
	const distribution = output.slice(output.indexOf("Latency Distribution"));
	const requests = output.match(/^\s*(\d+) requests in /m);
	const perSecond = output.match(/^Requests\/sec:\s+([\d.]+)/m);
	if (!requests || !perSecond || !output.includes("Latency Distribution")) throw new Error(`unexpected wrk output:\n${output.trim()}`);
	const socket = output.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
	return {
		requests: Number(requests[1]),
		requestsPerSecond: Number(perSecond[1]),
		p50Ms: latencyPercentile(distribution, 50),
		p99Ms: latencyPercentile(distribution, 99),
		non2xx: Number(output.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0),
		socketErrors: socket ? socket.slice(1).reduce((sum, count) => sum + Number(count), 0) : 0,
	};
}

import { OTHER_LOAD, type CpuShare } from "./processes";
import { machineLine, NOISY_PERCENT, type Machine } from "./report";
import type { WrkResult } from "./wrk";

export type GatewaySystem = "bare moleculer-web" | "colony, one process" | "colony over NATS" | "colony over NATS, two gateways";

export interface GatewayRow {
	system: GatewaySystem;
	result: WrkResult;
	cpu: CpuShare[];
}

export interface GatewaySettings {
	threads: number;
	connections: number;
	warmupMs: number;
	durationMs: number;
}

export const GATEWAY_TARGET_RATIO = 0.4;
const WRK_LABEL = "wrk";

function rate(value: number): string {
	return Math.round(value).toLocaleString("en-US");
}

function ms(value: number): string {
	return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

function rowOf(rows: GatewayRow[], system: GatewaySystem): GatewayRow | undefined {
	return rows.find((row) => row.system === system);
}

export function failedRequests(row: GatewayRow): number {
	return row.result.non2xx + row.result.socketErrors;
}

export function ratioToBare(row: GatewayRow, rows: GatewayRow[]): number | undefined {
	const bare = rowOf(rows, "bare moleculer-web")?.result.requestsPerSecond;
	return bare ? row.result.requestsPerSecond / bare : undefined;
}

/** The CPU of the system's own processes and the servers it uses: everything but wrk and the neighbours. */
function serverShares(row: GatewayRow): CpuShare[] {
	return row.cpu.filter((share) => share.label !== WRK_LABEL && share.label !== OTHER_LOAD);
}

function sum(shares: CpuShare[]): number {
	return shares.reduce((total, share) => total + share.percent, 0);
}

/** Server-side CPU microseconds per answered request. */
export function cpuPerRequestUs(row: GatewayRow): number {
	const perSecond = row.result.requestsPerSecond;
	return perSecond > 0 ? (sum(serverShares(row)) / 100 / perSecond) * 1e6 : Number.NaN;
}

/** The shares that show up at all, biggest first, the neighbours' last. */
function cpuCell(row: GatewayRow): string {
	const own = row.cpu.filter((share) => share.label !== OTHER_LOAD && Math.round(share.percent) > 0).sort((a, b) => b.percent - a.percent);
	const other = row.cpu.find((share) => share.label === OTHER_LOAD);
	const cells = own.map((share) => `${share.label} ${Math.round(share.percent)}%`);
	if (other) cells.push(`other load ${Math.round(other.percent)}%`);
	return cells.join(", ");
}

export function gatewayTable(rows: GatewayRow[]): string {
	const lines = [
		"| system | req/s | p50 ms | p99 ms | vs bare | failed requests | server CPU µs per request | CPU per process (100% = one core) |",
		"|---|---:|---:|---:|---:|---:|---:|---|",
	];
	for (const row of rows) {
		const ratio = ratioToBare(row, rows);
		const r = row.result;
		lines.push(
			`| ${row.system} | **${rate(r.requestsPerSecond)}** | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ` +
				`${ratio === undefined ? "—" : `**${ratio.toFixed(2)}**`} | ${rate(failedRequests(row))} of ${rate(r.requests)} | ` +
				`${Number.isNaN(cpuPerRequestUs(row)) ? "—" : rate(cpuPerRequestUs(row))} | ${cpuCell(row)} |`,
		);
	}
	return lines.join("\n");
}

/** Requests that failed anywhere make the whole run invalid: a fast error is not a served request. */
export function invalidRows(rows: GatewayRow[]): GatewayRow[] {
	return rows.filter((row) => failedRequests(row) > 0);
}

export function gatewayVerdict(rows: GatewayRow[]): string {
	const target = `colony over NATS ≥ ${GATEWAY_TARGET_RATIO.toFixed(2)} × bare req/s`;
	const invalid = invalidRows(rows);
	if (invalid.length > 0) {
		const failures = invalid.map((row) => `${row.system}: ${describeFailures(row.result)}`).join("; ");
		return `- ${target}: **not judged — the run is invalid** (${failures})`;
	}
	const nats = rowOf(rows, "colony over NATS");
	const bare = rowOf(rows, "bare moleculer-web");
	if (!nats || !bare) return `- ${target}: **not judged** (both systems must be measured)`;
	const ratio = ratioToBare(nats, rows) ?? 0;
	return (
		`- ${target}: **${ratio >= GATEWAY_TARGET_RATIO ? "met" : "missed"}** ` +
		`(${ratio.toFixed(2)} × (${rate(nats.result.requestsPerSecond)} vs ${rate(bare.result.requestsPerSecond)} req/s))`
	);
}

function describeFailures(result: WrkResult): string {
	return `${rate(result.non2xx)} answers of status 400 or above and ${rate(result.socketErrors)} socket errors of ${rate(result.requests)} requests`;
}

/** What held the numbers back: who used the machine's cores in each window. */
export function gatewayLimits(rows: GatewayRow[], machine: Machine, settings: GatewaySettings): string[] {
	const capacity = machine.cores * 100;
	const windows = rows.map((row) => {
		const wrk = row.cpu.find((share) => share.label === WRK_LABEL)?.percent ?? 0;
		return `${row.system} ${Math.round(sum(serverShares(row)))}% and wrk ${Math.round(wrk)}%`;
	});
	const paragraphs = [
		`Everything ran on this one machine: wrk (${settings.threads} threads, ${settings.connections} connections), ` +
			`each system and the NATS, Redis and MariaDB servers share ${machine.cores} cores (${capacity}% CPU). ` +
			`In the measured windows the systems with their servers used ${windows.join("; ")}. wrk keeps every connection ` +
			"busy, so each system answers as fast as its first saturated resource allows: the main thread of one of its Node " +
			"processes (about 100%) or the machine's cores.",
	];
	const bare = rowOf(rows, "bare moleculer-web");
	const nats = rowOf(rows, "colony over NATS");
	if (bare && nats && !Number.isNaN(cpuPerRequestUs(bare)) && !Number.isNaN(cpuPerRequestUs(nats))) {
		paragraphs.push(
			`**Cost per request.** The bare gateway spent ${rate(cpuPerRequestUs(bare))} µs of CPU per request, Colony over NATS ` +
				`${rate(cpuPerRequestUs(nats))} µs summed over its processes and servers: on top of the same HTTP handling ` +
				"the gateway verifies the token (remembered once verified) and checks its session against the revocations " +
				"it holds, counts the request in the shared rate limit (one Redis command per key and loop turn), and calls " +
				"`users.me` over NATS; the users node checks access and answers from the cached profile (Redis). Where that " +
				"time goes is in *Profile of the request path* below.",
		);
	}
	const twoGateways = rowOf(rows, "colony over NATS, two gateways");
	if (nats && twoGateways) {
		const gain = twoGateways.result.requestsPerSecond / nats.result.requestsPerSecond;
		const busiest = [...serverShares(twoGateways)].sort((a, b) => b.percent - a.percent)[0];
		paragraphs.push(
			`**A second gateway.** With wrk's threads split between two api gateways, Colony over NATS answered ` +
				`${rate(twoGateways.result.requestsPerSecond)} req/s, ${gain.toFixed(2)} × one gateway's ${rate(nats.result.requestsPerSecond)}` +
				(busiest ? `; the busiest process was the ${busiest.label} (${Math.round(busiest.percent)}% of a core)` : "") +
				`. On ${machine.cores} cores shared by every process, a second gateway adds capacity only where the first one ` +
				"was the limit and cores were left; on a cluster of machines each gateway brings its own.",
		);
	}
	return paragraphs;
}

export function gatewayMarkdown(rows: GatewayRow[], machine: Machine, settings: GatewaySettings, wrkSeconds: { warmup: number; duration: number }, code: string, date: Date): string {
	return [
		"# REST gateway benchmark",
		"",
		`Written by \`npm run bench:gateway\` (bench/gateway.ts) on ${date.toISOString().replace("T", " ").slice(0, 16)} UTC.`,
		"",
		`**Machine:** ${machineLine(machine)}; wrk, every system, NATS, Redis and MariaDB all on it.`,
		"",
		`**Code:** ${code}.`,
		"",
		`\`GET /api/v1/users/me\` with wrk, ${settings.threads} threads and ${settings.connections} connections, ` +
			`${wrkSeconds.warmup} s warm-up then ${wrkSeconds.duration} s measured per system, one system after another in the same run.`,
		"",
		gatewayTable(rows),
		"",
		"## Target",
		"",
		gatewayVerdict(rows),
		"",
		"## What limits the result",
		"",
		gatewayLimits(rows, machine, settings).join("\n\n"),
		"",
		"## How it is measured",
		"",
		"- **bare moleculer-web**: `bench/bare-gateway.ts` in its own process — a ServiceBroker without transporter or " +
			"logger, moleculer-web with one route `/api/v1` and the alias `GET users/me` → a local action answering a fixed " +
			"user. No authentication.",
		"- **colony, one process**: `dist/server.js` on its defaults, as `npm start` on a fresh machine — every service in " +
			"one process, in-process transport, memory cacher, SQLite in a data directory made for the run — with fixed " +
			"`JWT_SECRET` and `DATA_KEY`, `LOG_LEVEL=warn`.",
		"- **colony over NATS**: two processes from `dist/server.js` — `SERVICES=users` on a MariaDB database made for the " +
			"run and `SERVICES=api` — joined by NATS, sharing Redis under a namespace of their own (the database, the " +
			"namespace's Redis keys and the processes are removed after the run), `LOG_LEVEL=warn`.",
		"- **colony over NATS, two gateways**: the same cluster with a second `SERVICES=api` process started beside the " +
			"first (it is there, idle, while the single gateway is measured); wrk's threads are split between the two " +
			"(a wrk script sets each thread's address), so one client and one latency distribution cover both.",
		"- Every Colony system runs with `RATE_LIMIT_PER_MIN=100000000`: the limiter counts every request, as in " +
			"production, but never refuses one. One user is registered and signed in over REST; wrk sends its access " +
			"token as `Authorization: Bearer …` on every request.",
		"- Before a system is measured one request must answer 200. wrk runs with `--latency` (p50 and p99 are read from " +
			"its *Latency Distribution*) and a 10 s timeout; any answer of status 400 or above (wrk's *Non-2xx or 3xx " +
			"responses*) or socket error makes the run invalid, and an invalid run is not written here.",
		"- CPU is read from /proc for each process at the start and end of the measured window: the system's processes, " +
			"NATS, Redis, MariaDB (found by process name) and wrk. *server CPU µs per request* sums all but wrk and the " +
			"*other load* (the machine's busy time not charged to these processes). A window with more than " +
			`${NOISY_PERCENT}% other load is measured again, up to three times, keeping the quietest.`,
		"- Threads, connections and durations are set from the environment; see *Benchmarks* in README.md.",
		"",
	].join("\n");
}

import { cpus } from "node:os";
import { resolve } from "node:path";
import { intFromEnv } from "../lib/config";
import { SERVERS, signUpUsers, startColony, startColonyAlone, type ClusterLayout } from "./support/colony";
import {
	failedRequests,
	gatewayLimits,
	gatewayMarkdown,
	gatewayTable,
	gatewayVerdict,
	invalidRows,
	type GatewayRow,
	type GatewaySettings,
	type GatewaySystem,
} from "./support/gateway-report";
import { CpuMeter, type CpuShare, findProcesses, NodeProcess, OTHER_LOAD, runBench, SERVER_PROCESS_NAMES, waitForQuietMachine } from "./support/processes";
import { describeCode, describeMachine, machineLine, NOISY_PERCENT } from "./support/report";
import { writeResultsSection } from "./support/results-file";
import { Supervisor } from "./support/supervisor";
import { findWrk, runWrk, WRK_INSTALL_HINT, wrkSeconds, type WrkResult, type WrkRun } from "./support/wrk";

/**
 * The authenticated REST path (`GET /api/v1/users/me` with a bearer token) of Colony, in one process and over
 * NATS, against moleculer-web alone, all measured with wrk in the same run. See bench/RESULTS.md.
 */
const SETTINGS: GatewaySettings = {
	threads: intFromEnv(process.env.BENCH_GATEWAY_THREADS, 2, "BENCH_GATEWAY_THREADS"),
	connections: intFromEnv(process.env.BENCH_GATEWAY_CONNECTIONS, 64, "BENCH_GATEWAY_CONNECTIONS"),
	warmupMs: intFromEnv(process.env.BENCH_WARMUP_MS, 3_000, "BENCH_WARMUP_MS"),
	durationMs: intFromEnv(process.env.BENCH_DURATION_MS, 10_000, "BENCH_DURATION_MS"),
};
const ME_PATH = "/api/v1/users/me";
const QUIET_WAIT_MS = 30_000;
// This machine may be shared: a window disturbed by other work is measured again, and the quietest one is kept.
const MAX_ATTEMPTS = 3;
const MAX_WINDOW_MS = 120_000;

const BARE_GATEWAY_SCRIPT = resolve(__dirname, "bare-gateway.js");
const REPO = resolve(__dirname, "../..");
const RESULTS_FILE = resolve(REPO, "bench/RESULTS.md");
const USERS_CLUSTER: ClusterLayout = { services: ["users"], databasePrefix: "bench_gw", gateways: 2 };

interface Measured {
	label: string;
	pid: number | undefined;
}

class GatewayBench {
	readonly rows: GatewayRow[] = [];
	readonly supervisor = new Supervisor();
	private readonly servers = findProcesses(SERVER_PROCESS_NAMES);
	private wrkRun: WrkRun | undefined;

	constructor(private readonly wrk: string) {
		this.supervisor.cleanup.add("stop wrk", () => this.wrkRun?.kill());
		this.supervisor.killOnExit(() => this.wrkRun?.kill());
	}

	async measure(): Promise<void> {
		await this.measureBare();
		await this.measureColonyAlone();
		await this.measureColonyOverNats();
	}

	private async measureBare(): Promise<void> {
		const server = new NodeProcess("bare gateway", BARE_GATEWAY_SCRIPT, { ...process.env, PORT: "0" });
		this.supervisor.track(server);
		this.supervisor.cleanup.add("stop the bare gateway", () => server.stop());
		const [, port] = await server.waitForLine(/listening on port (\d+)/, 15_000);
		await this.measureSystem("bare moleculer-web", `http://127.0.0.1:${port}`, {}, [{ label: "bare gateway", pid: server.pid }]);
		// Stopped at once: an idle process still wakes up, and the next system gets the machine to itself.
		await server.stop();
	}

	private async measureColonyAlone(): Promise<void> {
		console.log("Starting Colony in one process (SQLite, in-process transport, memory cacher)…");
		const colony = await startColonyAlone(this.supervisor.cleanup, (node) => this.supervisor.track(node));
		const headers = await signIn(colony.gatewayUrl);
		await this.measureSystem("colony, one process", colony.gatewayUrl, headers, [{ label: "colony (one process)", pid: colony.node.pid }]);
		await colony.node.stop();
	}

	private async measureColonyOverNats(): Promise<void> {
		console.log("Starting Colony over NATS: a users node on MariaDB and two api gateways, sharing Redis…");
		const cluster = await startColony(this.supervisor.cleanup, (node) => this.supervisor.track(node), USERS_CLUSTER);
		const [first, second] = cluster.gateways;
		const headers = await signIn(first.url);
		const usersNode = { label: "users node", pid: cluster.serviceNode.pid };
		// One gateway (the second one idle), then both behind the same wrk, its threads split between them.
		await this.measureSystem("colony over NATS", first.url, headers, [{ label: "api gateway", pid: first.node.pid }, usersNode]);
		await this.measureSystem(
			"colony over NATS, two gateways",
			first.url,
			headers,
			[{ label: "api gateway 1", pid: first.node.pid }, { label: "api gateway 2", pid: second.node.pid }, usersNode],
			cluster.gateways.map(({ url }) => ({ host: "127.0.0.1", port: Number(new URL(url).port) })),
		);
		for (const { node } of cluster.gateways) await node.stop();
		await cluster.serviceNode.stop();
	}

	private async measureSystem(
		system: GatewaySystem,
		baseUrl: string,
		headers: Record<string, string>,
		processes: Measured[],
		spreadOver?: { host: string; port: number }[],
	): Promise<void> {
		const url = baseUrl + ME_PATH;
		for (const server of spreadOver ?? []) await expectOk(`http://${server.host}:${server.port}${ME_PATH}`, headers);
		await expectOk(url, headers);
		const targets = [...processes.filter((p): p is { label: string; pid: number } => p.pid !== undefined), ...this.servers];
		let kept: GatewayRow | undefined;
		for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
			const row = await this.attempt(system, url, headers, targets, spreadOver);
			// A failed request invalidates the run whatever the neighbours did: that attempt is the one reported.
			if (failedRequests(row) > 0) {
				kept = row;
				break;
			}
			if (!kept || otherLoadOf(row) < otherLoadOf(kept)) kept = row;
			if (otherLoadOf(row) < NOISY_PERCENT) break;
			if (attempt < MAX_ATTEMPTS) console.log(`  other work used ${Math.round(otherLoadOf(row))}% of a core during the window: measuring again`);
		}
		if (kept) this.rows.push(kept);
	}

	private async attempt(
		system: GatewaySystem,
		url: string,
		headers: Record<string, string>,
		targets: { label: string; pid: number }[],
		spreadOver?: { host: string; port: number }[],
	): Promise<GatewayRow> {
		const busy = await waitForQuietMachine(cpus().length, QUIET_WAIT_MS);
		if (busy !== undefined && busy >= 0.15) {
			console.log(`  the machine is still ${Math.round(busy * 100)}% busy after ${QUIET_WAIT_MS / 1_000} s; measuring anyway`);
		}
		console.log(`  ${system}: ${SETTINGS.warmupMs > 0 ? `${wrkSeconds(SETTINGS.warmupMs)} s warm-up, then ` : ""}${wrkSeconds(SETTINGS.durationMs)} s measured…`);
		if (SETTINGS.warmupMs > 0) await this.wrkFor(url, headers, SETTINGS.warmupMs, spreadOver).result;
		const run = this.wrkFor(url, headers, SETTINGS.durationMs, spreadOver);
		const meter = new CpuMeter([...targets, ...(run.pid === undefined ? [] : [{ label: "wrk", pid: run.pid }])]);
		meter.start();
		const [result, cpu] = await Promise.all([run.result, cpuUntil(meter, wrkSeconds(SETTINGS.durationMs) * 1_000, run.result)]);
		console.log(
			`  → ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, ` +
				`${result.non2xx} non-2xx, ${result.socketErrors} socket errors of ${result.requests} requests`,
		);
		return { system, result, cpu };
	}

	private wrkFor(url: string, headers: Record<string, string>, durationMs: number, spreadOver?: { host: string; port: number }[]): WrkRun {
		this.wrkRun = runWrk(this.wrk, url, { threads: SETTINGS.threads, connections: SETTINGS.connections, durationMs, headers, spreadOver });
		return this.wrkRun;
	}
}

/**
 * Stops the meter when wrk's window ends, while wrk is still there to be read (its own window starts a moment
 * after it is spawned, and it reports after the window); if wrk ends first, its CPU is left out.
 */
function cpuUntil(meter: CpuMeter, windowMs: number, ended: Promise<WrkResult>): Promise<CpuShare[]> {
	return new Promise((resolve) => {
		let stopped = false;
		const stop = () => {
			if (stopped) return;
			stopped = true;
			clearTimeout(timer);
			resolve(meter.stop());
		};
		const timer = setTimeout(stop, windowMs);
		ended.then(stop, stop);
	});
}

/** Registers and signs in one user through the REST API; wrk sends its access token. */
async function signIn(gatewayUrl: string): Promise<Record<string, string>> {
	const [user] = await signUpUsers(gatewayUrl, 1);
	return { Authorization: `Bearer ${user.token}` };
}

async function expectOk(url: string, headers: Record<string, string>): Promise<void> {
	const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
	const body = await res.text();
	if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status} before the measurement: ${body}`);
}

function otherLoadOf(row: GatewayRow): number {
	return row.cpu.find((share) => share.label === OTHER_LOAD)?.percent ?? 0;
}

/** Settings that would make a window empty or endless, or that wrk refuses, are refused before anything starts. */
function checkSettings(): void {
	const ranges: { name: string; value: number; min: number; max: number }[] = [
		{ name: "BENCH_GATEWAY_THREADS", value: SETTINGS.threads, min: 1, max: 256 },
		{ name: "BENCH_GATEWAY_CONNECTIONS", value: SETTINGS.connections, min: SETTINGS.threads, max: 10_000 },
		{ name: "BENCH_WARMUP_MS", value: SETTINGS.warmupMs, min: 0, max: MAX_WINDOW_MS },
		{ name: "BENCH_DURATION_MS", value: SETTINGS.durationMs, min: 1, max: MAX_WINDOW_MS },
	];
	for (const { name, value, min, max } of ranges) {
		if (value < min || value > max) throw new Error(`${name} must be between ${min} and ${max}, got ${value}`);
	}
}

async function main(): Promise<number> {
	const wrk = findWrk();
	if (!wrk) {
		console.error(WRK_INSTALL_HINT);
		return 1;
	}
	checkSettings();
	const machine = describeMachine();
	const code = describeCode(REPO);
	const seconds = { warmup: SETTINGS.warmupMs > 0 ? wrkSeconds(SETTINGS.warmupMs) : 0, duration: wrkSeconds(SETTINGS.durationMs) };
	console.log(`REST gateway benchmark on ${machineLine(machine)}\nCode: ${code}`);
	console.log(
		`GET ${ME_PATH} with ${wrk}: ${SETTINGS.threads} threads, ${SETTINGS.connections} connections, ${seconds.warmup} s warm-up, ` +
			`${seconds.duration} s measured per system; servers: MariaDB ${SERVERS.mariadb}, Redis ${SERVERS.redis}, NATS ${SERVERS.nats}`,
	);
	const bench = new GatewayBench(wrk);
	await bench.supervisor.run(() => bench.measure());

	const rows = bench.rows;
	console.log(`\n${gatewayTable(rows)}\n\nMachine: ${machineLine(machine)}\nTarget:\n${gatewayVerdict(rows)}\n\n${gatewayLimits(rows, machine, SETTINGS).join("\n\n")}`);
	if (invalidRows(rows).length > 0) {
		console.error(`\nThe run is invalid: some requests failed (see the table). ${RESULTS_FILE} is left as it was.`);
		return 1;
	}
	if (process.env.BENCH_WRITE_RESULTS !== "false") {
		writeResultsSection(RESULTS_FILE, "gateway", gatewayMarkdown(rows, machine, SETTINGS, seconds, code, new Date()));
		console.log(`\nWrote the gateway section of ${RESULTS_FILE}`);
	}
	return 0;
}

runBench("gateway", main);

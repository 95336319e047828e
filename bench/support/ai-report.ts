import type { AiStrategyName } from "../../broker/strategies/ai.strategies";
import { OTHER_LOAD, type CpuShare } from "./processes";
import { machineLine, NOISY_PERCENT, type Machine } from "./report";

/** 4 hosts give at least this many times one host's throughput. */
export const SCALING_TARGET = 3.8;
export const SCALING_TARGET_HOSTS = 4;
/** The balancing path adds at most this much to a call at the median. */
export const OVERHEAD_TARGET_MS = 1;

export interface AiBenchSettings {
	hosts: number[];
	strategies: AiStrategyName[];
	/** Each host's time per request, and its slots. */
	latencyMs: number;
	slots: number;
	inFlightPerHost: number;
	warmupMs: number;
	durationMs: number;
	iterations: number;
	overheadWarmup: number;
	rounds: number;
	members: number;
	heartbeatMs: number;
}

export interface Percentiles {
	samples: number;
	p50Ms: number;
	p90Ms: number;
	p99Ms: number;
	maxMs: number;
	meanMs: number;
}

/** The hosts driven by the ollama client directly, or through Colony with a balancing strategy. */
export type ScalingSystem = AiStrategyName | "direct ollama client";

export interface ScalingRow {
	system: ScalingSystem;
	hosts: number;
	inFlight: number;
	requestsPerSecond: number;
	latency: Percentiles;
	errors: number;
	lastError?: string;
	/** Answers in the window per ai node, in the order of the nodes. */
	perHost: number[];
	/** Requests the test Ollamas refused (503: more at once than their slots) and the most any ran at once. */
	hostRefusals: number;
	hostMaxConcurrent: number;
	/** Failed calls to a host counted by the ai nodes, and calls the caller's broker retried. */
	hostFailuresAndRetries: number;
	cpu: CpuShare[];
	attempts: number;
}

export type OverheadPath = "direct ollama client" | "colony, one broker (in-process)" | "colony over NATS" | "colony over NATS, with a users node";

export interface OverheadRow {
	path: OverheadPath;
	latency: Percentiles;
}

/** What the ai node does per request without a users service: the policy lookup that fails and falls back. */
export interface FallbackCost {
	/** Microseconds per `policyFor` call that ends in the default policy, measured on an idle node. */
	microsPerLookup: number;
	/** Lookups answered by the fallback during the overhead phase, from the node's degraded-operations counter. */
	fallbacksCounted: number;
	requestsServed: number;
}

export interface OverheadResult {
	rows: OverheadRow[];
	fallback?: FallbackCost;
	cpu: CpuShare[];
}

export function percentiles(values: number[]): Percentiles {
	const sorted = [...values].sort((a, b) => a - b);
	const at = (p: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);
	const sum = sorted.reduce((total, value) => total + value, 0);
	return { samples: sorted.length, p50Ms: at(50), p90Ms: at(90), p99Ms: at(99), maxMs: sorted.at(-1) ?? Number.NaN, meanMs: sorted.length ? sum / sorted.length : Number.NaN };
}

function ms(value: number): string {
	if (Number.isNaN(value)) return "—";
	return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

function signedMs(value: number): string {
	return `${value >= 0 ? "+" : "−"}${ms(Math.abs(value))}`;
}

function rate(value: number): string {
	return value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(1);
}

/** Requests per second with no overhead at all: every slot busy all the time. */
export function idealRate(hosts: number, settings: AiBenchSettings): number {
	return (hosts * settings.slots * 1_000) / settings.latencyMs;
}

function rowOf(rows: ScalingRow[], system: ScalingSystem, hosts: number): ScalingRow | undefined {
	return rows.find((row) => row.system === system && row.hosts === hosts);
}

/** Throughput with N hosts over N times the same system's throughput with one host. */
export function scalingEfficiency(row: ScalingRow, rows: ScalingRow[]): number | undefined {
	const one = rowOf(rows, row.system, 1);
	return one && one.requestsPerSecond > 0 ? row.requestsPerSecond / (row.hosts * one.requestsPerSecond) : undefined;
}

/** Throughput over the direct client's with as many hosts. */
export function ofDirect(row: ScalingRow, rows: ScalingRow[]): number | undefined {
	const direct = rowOf(rows, "direct ollama client", row.hosts);
	return direct && row !== direct && direct.requestsPerSecond > 0 ? row.requestsPerSecond / direct.requestsPerSecond : undefined;
}

function shareCell(row: ScalingRow): string {
	const total = row.perHost.reduce((sum, count) => sum + count, 0);
	if (total === 0) return "—";
	return row.perHost.map((count) => `${Math.round((count / total) * 100)}%`).join(" / ");
}

function cpuCell(shares: CpuShare[]): string {
	const own = shares.filter((share) => share.label !== OTHER_LOAD).sort((a, b) => b.percent - a.percent);
	const other = shares.find((share) => share.label === OTHER_LOAD);
	const cells = own.map((share) => `${share.label} ${Math.round(share.percent)}%`);
	if (other) cells.push(`other load ${Math.round(other.percent)}%`);
	return cells.join(", ");
}

/** The rows in table order: by host count, the direct client first. */
function ordered(rows: ScalingRow[]): ScalingRow[] {
	const rank = (row: ScalingRow) => (row.system === "direct ollama client" ? 0 : 1);
	return [...rows].sort((a, b) => a.hosts - b.hosts || rank(a) - rank(b));
}

export function scalingTable(rows: ScalingRow[], settings: AiBenchSettings): string {
	const lines = [
		"| system | hosts | in flight | req/s | of ideal | vs direct | scaling efficiency | p50 ms | p99 ms | max ms | failed / refused / retried | answers per host | CPU (100% = one core) |",
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
	];
	for (const row of ordered(rows)) {
		const ideal = idealRate(row.hosts, settings);
		const efficiency = scalingEfficiency(row, rows);
		const direct = ofDirect(row, rows);
		lines.push(
			`| ${row.system} | ${row.hosts} | ${row.inFlight} | **${rate(row.requestsPerSecond)}** | ${Math.round((row.requestsPerSecond / ideal) * 100)}% | ` +
				`${direct === undefined ? "—" : direct.toFixed(2)} | ${efficiency === undefined ? "—" : `**${efficiency.toFixed(3)}**`} | ` +
				`${ms(row.latency.p50Ms)} | ${ms(row.latency.p99Ms)} | ${ms(row.latency.maxMs)} | ${row.errors} / ${row.hostRefusals} / ${row.hostFailuresAndRetries} | ` +
				`${shareCell(row)} | ${cpuCell(row.cpu)} |`,
		);
	}
	return lines.join("\n");
}

function overheadOf(row: OverheadRow, rows: OverheadRow[], key: "p50Ms" | "p99Ms"): number | undefined {
	const direct = rows.find((r) => r.path === "direct ollama client");
	return direct && row !== direct ? row.latency[key] - direct.latency[key] : undefined;
}

export function overheadTable(result: OverheadResult): string {
	const lines = [
		"| path | calls | p50 ms | p90 ms | p99 ms | mean ms | max ms | overhead at p50 | overhead at p99 |",
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|",
	];
	for (const row of result.rows) {
		const atP50 = overheadOf(row, result.rows, "p50Ms");
		const atP99 = overheadOf(row, result.rows, "p99Ms");
		const l = row.latency;
		lines.push(
			`| ${row.path} | ${l.samples.toLocaleString("en-US")} | ${ms(l.p50Ms)} | ${ms(l.p90Ms)} | ${ms(l.p99Ms)} | ${ms(l.meanMs)} | ${ms(l.maxMs)} | ` +
				`${atP50 === undefined ? "—" : `**${signedMs(atP50)} ms**`} | ${atP99 === undefined ? "—" : `${signedMs(atP99)} ms`} |`,
		);
	}
	return lines.join("\n");
}

export interface Verdict {
	target: string;
	met: boolean;
	detail: string;
}

export function verdicts(rows: ScalingRow[], overhead: OverheadResult | undefined): Verdict[] {
	const found: Verdict[] = [];
	for (const strategy of [...new Set(rows.map((row) => row.system))].filter((system) => system !== "direct ollama client")) {
		const one = rowOf(rows, strategy, 1);
		const four = rowOf(rows, strategy, SCALING_TARGET_HOSTS);
		if (!one || !four) continue;
		const ratio = one.requestsPerSecond > 0 ? four.requestsPerSecond / one.requestsPerSecond : 0;
		const failures = [one, four].reduce((sum, row) => sum + row.errors + row.hostRefusals + row.hostFailuresAndRetries, 0);
		const clean = failures === 0;
		found.push({
			target: `${strategy}: ${SCALING_TARGET_HOSTS} hosts give at least ${SCALING_TARGET} × one host's throughput`,
			met: ratio >= SCALING_TARGET && clean,
			detail:
				`${ratio.toFixed(2)} × (${rate(four.requestsPerSecond)} vs ${rate(one.requestsPerSecond)} req/s; scaling efficiency ` +
				`${(ratio / SCALING_TARGET_HOSTS).toFixed(3)})` +
				(clean ? "" : `; ${failures} requests failed, were refused or retried`),
		});
	}
	const direct = overhead?.rows.find((row) => row.path === "direct ollama client");
	for (const path of ["colony over NATS", "colony over NATS, with a users node"] as const) {
		const row = overhead?.rows.find((r) => r.path === path);
		if (!overhead || !direct || !row) continue;
		const extra = row.latency.p50Ms - direct.latency.p50Ms;
		found.push({
			target:
				path === "colony over NATS"
					? `balancing overhead at most ${OVERHEAD_TARGET_MS} ms at p50 (caller broker → NATS → ai node → Ollama, against the ollama client calling the same Ollama)`
					: "for reference, the same with the users node production has (the ai node keeps the AI policy it gives for 30 s)",
			met: extra <= OVERHEAD_TARGET_MS,
			detail: `${signedMs(extra)} ms (p50 ${ms(row.latency.p50Ms)} ms vs ${ms(direct.latency.p50Ms)} ms direct; at p99 ${signedMs(row.latency.p99Ms - direct.latency.p99Ms)} ms)`,
		});
	}
	return found;
}

export function verdictLines(found: Verdict[]): string {
	return found.map((v) => `- ${v.target}: **${v.met ? "met" : "missed"}** (${v.detail})`).join("\n");
}

/** What the numbers show and what holds them back. */
export function findings(rows: ScalingRow[], overhead: OverheadResult | undefined, settings: AiBenchSettings, machine: Machine): string[] {
	const paragraphs: string[] = [];
	const colony = rows.filter((row) => row.system !== "direct ollama client");
	const directOne = rowOf(rows, "direct ollama client", 1);
	if (colony.length > 0) {
		const againstDirect = colony.map((row) => ofDirect(row, rows)).filter((ratio): ratio is number => ratio !== undefined);
		const busiest = rows.reduce((a, b) => (sumCpu(a.cpu) > sumCpu(b.cpu) ? a : b));
		const failures = colony.reduce((sum, row) => sum + row.errors + row.hostRefusals + row.hostFailuresAndRetries, 0);
		const evenness = Math.max(...colony.map((row) => spread(row)));
		paragraphs.push(
			`**Scaling.** N hosts of ${settings.slots} slot${settings.slots === 1 ? "" : "s"} busy ${settings.latencyMs} ms per request can answer at most ` +
				`N × ${rate((settings.slots * 1_000) / settings.latencyMs)} req/s. ` +
				(directOne
					? `No caller gets there: the direct ollama client, sending each host's next request the moment the last is answered, ` +
						`got ${rate(directOne.requestsPerSecond)} req/s from one host (${Math.round((directOne.requestsPerSecond / idealRate(1, settings)) * 100)}% of ideal, ` +
						`${ms(directOne.latency.p50Ms)} ms per request at the median: the test Ollama's own HTTP exchange and timers come on top of its ${settings.latencyMs} ms). `
					: "") +
				(againstDirect.length > 0
					? `Through Colony every row stayed between ${Math.min(...againstDirect).toFixed(2)} and ${Math.max(...againstDirect).toFixed(2)} × the direct client's ` +
						`rate with as many hosts: the caller keeps ${settings.inFlightPerHost} requests in flight per host, so when a slot frees the next ` +
						"request is already waiting in the ai node's fair queue, next to its host, and the node's own work between two requests " +
						"hides in what the direct client spends on its round trip. "
					: "") +
				`Both strategies spread the answers evenly (no host's share more than ${(evenness * 100).toFixed(1)} points from an equal share), ` +
				`${failures === 0 ? "no call failed, no host refused a request and none was retried" : `${failures} calls failed, were refused or retried`}, ` +
				(Math.max(...colony.map((row) => row.hostMaxConcurrent)) <= settings.slots
					? "and no host ever ran more requests at once than its slots. "
					: "and some host ran more requests at once than its slots (see the refusals). ") +
				`The load is light for the machine: the busiest window used ${Math.round(sumCpu(busiest.cpu))}% of ${machine.cores * 100}% CPU (${cpuCell(busiest.cpu)}).`,
		);
	}
	if (overhead) {
		const get = (path: OverheadPath) => overhead.rows.find((row) => row.path === path);
		const direct = get("direct ollama client");
		const local = get("colony, one broker (in-process)");
		const nats = get("colony over NATS");
		const users = get("colony over NATS, with a users node");
		if (direct && local && nats) {
			const natsExtra = nats.latency.p50Ms - direct.latency.p50Ms;
			paragraphs.push(
				`**Overhead.** At the median a call through one broker took ${signedMs(local.latency.p50Ms - direct.latency.p50Ms)} ms more than the ollama ` +
					"client alone: Colony's own layers (the caller's and the action's middlewares, validation, the access rule, the AI policy " +
					"the node keeps, the rate-limit count in Redis (sent after the request is let in), the fair queue, telemetry, and the " +
					`host board updated as the request takes its slot and gives it back). Over NATS it took ${signedMs(nats.latency.p50Ms - local.latency.p50Ms)} ms ` +
					"more than in one broker: the request and the answer are serialised, each passes through the NATS server, and both ends " +
					"run Moleculer's middlewares for a remote call (a bare NATS request-reply takes about 0.4 ms on this machine). The ai " +
					"node tells the other nodes its load at most every 200 ms, not on every request. " +
					(natsExtra > OVERHEAD_TARGET_MS
						? `That puts the NATS path ${ms(natsExtra - OVERHEAD_TARGET_MS)} ms over the ${OVERHEAD_TARGET_MS} ms target. `
						: "") +
					"Where the time goes is in *Profile of the `ai.chat` path* below (recorded by hand)." +
					(users
						? ` With a users node, as every production cluster has, the ai node asks it for the AI policy once and keeps it ` +
							`for 30 s: ${signedMs(users.latency.p50Ms - nats.latency.p50Ms)} ms at the median against the path without it.`
						: ""),
			);
		}
		if (overhead.fallback) {
			const f = overhead.fallback;
			paragraphs.push(
				`**Without a users service** (every path above but the last) the node's policy lookup fails and it serves with the ` +
					`default policy, asking again every 5 s: ${f.fallbacksCounted.toLocaleString("en-US")} fallbacks were counted in ` +
					`\`colony.degraded.operations.total{what="ai policy"}\` for ${f.requestsServed.toLocaleString("en-US")} requests on the NATS ai node; ` +
					`a lookup that falls back took ${f.microsPerLookup.toFixed(0)} µs on an idle node (timed on its own after the calls).`,
			);
		}
		const other = overhead.cpu.find((share) => share.label === OTHER_LOAD)?.percent ?? 0;
		paragraphs.push(
			`In the overhead phase one call at a time was in flight: ${cpuCell(overhead.cpu)} over the phase` +
				`${other >= NOISY_PERCENT ? " — other work was running on the machine meanwhile, which widens the tails" : ""}.`,
		);
	}
	return paragraphs;
}

/** How far the most or least loaded host's share of the answers is from an equal share. */
function spread(row: ScalingRow): number {
	const total = row.perHost.reduce((sum, count) => sum + count, 0);
	if (total === 0 || row.perHost.length === 0) return 0;
	const equal = 1 / row.perHost.length;
	return Math.max(...row.perHost.map((count) => Math.abs(count / total - equal)));
}

function sumCpu(shares: CpuShare[]): number {
	return shares.filter((share) => share.label !== OTHER_LOAD).reduce((total, share) => total + share.percent, 0);
}

export function aiMarkdown(
	rows: ScalingRow[],
	overhead: OverheadResult | undefined,
	settings: AiBenchSettings,
	machine: Machine,
	code: string,
	date: Date,
	servers: { nats: string; redis: string },
): string {
	const slots = `${settings.slots} slot${settings.slots === 1 ? "" : "s"}`;
	return [
		"# AI host balancing benchmark",
		"",
		`Written by \`npm run bench:ai\` (bench/ai.ts) on ${date.toISOString().replace("T", " ").slice(0, 16)} UTC.`,
		"",
		`**Machine:** ${machineLine(machine)}; the bench process (the caller and the ai nodes), the test Ollamas' process, NATS and Redis all on it.`,
		"",
		`**Code:** ${code}.`,
		"",
		`## Throughput with ${settings.hosts.join(", ")} hosts — ${settings.latencyMs} ms per request, ${slots} per host`,
		"",
		scalingTable(rows, settings),
		"",
		`*ideal* = N × ${slots} ÷ ${settings.latencyMs} ms; *vs direct* = req/s over the direct ollama client's with as many hosts; ` +
			"*scaling efficiency* = req/s with N hosts ÷ (N × req/s with one host, same system); *failed / refused / retried*: calls that " +
			"failed, requests a test Ollama refused, and host failures counted by the ai nodes plus retries by the brokers; *answers per " +
			"host*: each host's share of the answers in the window.",
		"",
		`## Overhead per call — one call at a time, ${settings.iterations.toLocaleString("en-US")} per path, a host that answers at once`,
		"",
		overhead ? overheadTable(overhead) : "(not measured)",
		"",
		"*overhead* = the path's latency minus the direct ollama client's at the same percentile; the paths were measured in the same run, interleaved.",
		"",
		"## Targets",
		"",
		verdictLines(verdicts(rows, overhead)),
		"",
		"## What the numbers show",
		"",
		findings(rows, overhead, settings, machine).join("\n\n"),
		"",
		"## How it is measured",
		"",
		`- **Hosts**: \`OllamaTestServer\` (test/support/ollama-server.ts), a fake Ollama speaking its wire protocol, one per host, all in ` +
			`one child process of their own (bench/ollama-hosts.ts), each taking ${settings.latencyMs} ms per chat request with ${slots} and no ` +
			"queue — a request beyond its slots is refused with Ollama's 503 and counted — the model already loaded.",
		`- **ai nodes**: one broker per host running the ai service (services/ai/ai.service.ts) bound to it with \`parallel: ${settings.slots}\`, ` +
			`its heartbeat every ${settings.heartbeatMs / 1_000} s (production's default) and its rate-limit counts shared in Redis. Every broker — ai ` +
			"nodes and caller — has production's options from `createBrokerOptions` (moleculer.config.ts: middlewares, retries, circuit " +
			`breaker, metrics), NATS at ${servers.nats} as transporter and Redis at ${servers.redis} as cacher, a namespace of its own per ` +
			"scenario, logging off; they all run in the bench's process. No users service runs except in the last overhead path, so the " +
			"ai nodes use the default AI policy.",
		"- **Caller**: a broker standing in for the api gateway, with one service carrying the AiHostsMixin as the gateway does, so its strategies see the hosts' " +
			"heartbeats; measuring starts once it has seen every host healthy. It calls `ai.chat` without streaming, at temperature 0.7, " +
			"with a new question every time, so no cache answers. `ai.chat` refuses calls without a signed-in caller (401), so each call " +
			`carries a member's session in \`meta.user\`, as the gateway and the chat assistant do, taking ${settings.members} members in turn: ` +
			"a member's budget is 30 requests a minute, and none comes near half of it.",
		`- **Throughput**: a closed loop — ${settings.inFlightPerHost} × N callers through Colony, each sending its next request when its last ` +
			`is answered, ${settings.warmupMs / 1_000} s warm-up, then ${settings.durationMs / 1_000} s measured. The direct ollama client ` +
			`keeps one request per host slot in flight (a host without a queue refuses a second), ${Math.max(1, Math.round(settings.durationMs / 2_000))} s measured ` +
			"after a 1 s warm-up. Latency is the caller's, send to answer, so Colony's includes the wait in the node's fair queue behind the " +
			"other request in flight. The strategy is what AI_STRATEGY selects for the ai actions (`AiRoundRobin` by default, " +
			"`AiModelAware` with `AI_STRATEGY=ModelAware`). CPU is read from /proc over each window for the bench process, the test " +
			`Ollamas, NATS and Redis; a window with more than ${NOISY_PERCENT}% *other load* on the machine is measured again, up to three ` +
			"times, keeping the quietest.",
		`- **Overhead**: one host answering at once (latency 0), one request at a time; ${settings.overheadWarmup} warm-up calls per path, ` +
			`then ${settings.iterations.toLocaleString("en-US")} measured per path in ${settings.rounds} interleaved rounds, so drift hits every path alike. ` +
			"The paths: the `ollama` client (`new Ollama({ host }).chat(…)` with the request the ai node sends); one broker with the caller's " +
			"service and the ai service, no transporter; a caller broker and an ai broker over NATS; the same plus a broker running the users " +
			"service (SQLite in memory), so that the policy lookup is answered as in production.",
		"- The settings come from the environment; see *Benchmarks* in README.md.",
		"",
	].join("\n");
}

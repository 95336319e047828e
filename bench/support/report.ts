import { execFileSync } from "node:child_process";
import { cpus, release, totalmem, type } from "node:os";
import type { LoadResult } from "./load";
import { OTHER_LOAD, type CpuShare } from "./processes";

export interface Machine {
	cpuModel: string;
	cores: number;
	memoryGiB: number;
	node: string;
	os: string;
}

export function describeMachine(): Machine {
	const list = cpus();
	return {
		cpuModel: list[0]?.model.trim() ?? "unknown CPU",
		cores: list.length,
		memoryGiB: totalmem() / 1024 ** 3,
		node: process.version,
		os: `${type()} ${release()}`,
	};
}

/** The commit measured, and the server files that differed from it (other work in progress is measured too). */
export function describeCode(repo: string): string {
	try {
		// Only the end is trimmed: a porcelain line starts with a space when the change is not staged.
		const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, encoding: "utf8", timeout: 5_000, stdio: ["ignore", "pipe", "ignore"] }).trimEnd();
		const commit = git("rev-parse", "--short", "HEAD");
		const changed = git("status", "--porcelain", "--", "server.ts", "moleculer.config.ts", "services", "mixins", "broker", "lib", "migrations", "types")
			.split("\n")
			.filter(Boolean)
			.map((line) => line.slice(3));
		return changed.length === 0 ? `commit ${commit}` : `commit ${commit} with uncommitted changes to ${changed.join(", ")}`;
	} catch {
		return "unknown (not a git checkout)";
	}
}

export function machineLine(machine: Machine): string {
	return `${machine.cpuModel} × ${machine.cores} cores, ${machine.memoryGiB.toFixed(1)} GiB RAM, Node ${machine.node}, ${machine.os}`;
}

export type System = "colony" | "bare socket.io";

/**
 * The two ways a scenario is measured: a closed loop that finds the highest sustained rate (the rate target),
 * and a fixed offered rate below it that shows the path's latency without a queue in front (the p99 target).
 */
export type Phase = "throughput" | "fixed rate";

/**
 * How a scenario spreads its sockets: channels of 100 with users holding several sockets each (both phases), or
 * every socket in one channel, one user each (fixed rate only, judged against the bare relay's latency).
 */
export type ScenarioKind = "fan-out" | "one channel";

export interface ScenarioRow {
	system: System;
	kind: ScenarioKind;
	phase: Phase;
	sockets: number;
	channels: number;
	users: number;
	result: LoadResult;
	cpu: CpuShare[];
}

export interface RunSettings {
	warmupMs: number;
	durationMs: number;
	inFlight: number;
	/** The fixed-rate phase: messages per second offered in total, and how long it is measured. */
	ratePerSecond: number;
	rateDurationMs: number;
	/** The fixed rate of the one-channel scenarios. */
	oneChannelRatePerSecond: number;
	/** Of the fan-out scenarios: users and sockets per channel. */
	users: number;
	channelSize: number;
}

export const P99_TARGET_MS = 50;
export const TARGET_SOCKETS = 1_000;
export const RATE_TARGET_RATIO = 0.5;
/** One channel: Colony's p99 at most this times the bare relay's at the same rate. */
export const ONE_CHANNEL_P99_RATIO = 1.5;
/** Neighbour load during a window, in % of one core, above which a row is marked as disturbed. */
export const NOISY_PERCENT = 25;

function rate(value: number): string {
	return Math.round(value).toLocaleString("en-US");
}

function ms(value: number): string {
	if (Number.isNaN(value)) return "—";
	return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

function percent(fraction: number | undefined): string {
	return fraction === undefined || !Number.isFinite(fraction) ? "—" : `${Math.round(fraction * 100)}%`;
}

function rowOf(rows: ScenarioRow[], system: System, phase: Phase, sockets: number, kind: ScenarioKind = "fan-out"): ScenarioRow | undefined {
	return rows.find((row) => row.system === system && row.kind === kind && row.phase === phase && row.sockets === sockets);
}

function ofKind(rows: ScenarioRow[], kind: ScenarioKind): ScenarioRow[] {
	return rows.filter((row) => row.kind === kind);
}

/** Colony's closed-loop delivered rate over the bare server's at the same socket count. */
export function ratioToBare(row: ScenarioRow, rows: ScenarioRow[]): number | undefined {
	if (row.system !== "colony" || row.phase !== "throughput") return undefined;
	const bare = rowOf(rows, "bare socket.io", "throughput", row.sockets, row.kind);
	if (!bare || bare.result.deliveredPerSecond === 0) return undefined;
	return row.result.deliveredPerSecond / bare.result.deliveredPerSecond;
}

/** The fixed rate as a share of what the same system sustained in the closed loop at the same socket count. */
export function loadOfMax(row: ScenarioRow, rows: ScenarioRow[]): number | undefined {
	const max = rowOf(rows, row.system, "throughput", row.sockets, row.kind)?.result.deliveredPerSecond;
	return max ? row.result.sentPerSecond / max : undefined;
}

function layoutCell(row: ScenarioRow): string {
	return `${row.channels} × ${row.sockets / row.channels}`;
}

export function throughputTitle(settings: RunSettings): string {
	return `Throughput: closed loop, ${settings.inFlight} in flight per channel — judges the message-rate target`;
}

export function latencyTitle(settings: RunSettings): string {
	return `Latency at a fixed ${rate(settings.ratePerSecond)} msgs/s in total — judges the p99 target`;
}

export function oneChannelTitle(settings: RunSettings): string {
	return `One channel, one socket per user, at a fixed ${rate(settings.oneChannelRatePerSecond)} msgs/s — judges Colony's p99 against the bare relay's`;
}

export function throughputTable(rows: ScenarioRow[]): string {
	const lines = [
		"| scenario | sockets | channels × sockets | sent msgs/s | delivered msgs/s | socket receptions/s | p50 ms | p99 ms | max ms | ack p50 ms | lost / errors | vs bare |",
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
	];
	for (const row of ofKind(rows, "fan-out").filter((r) => r.phase === "throughput")) {
		const ratio = ratioToBare(row, rows);
		const r = row.result;
		lines.push(
			`| ${row.system} | ${rate(row.sockets)} | ${layoutCell(row)} | ${rate(r.sentPerSecond)} | ` +
				`**${rate(r.deliveredPerSecond)}** | ${rate(r.receptionsPerSecond)} | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${ms(r.maxMs)} | ${ms(r.ackP50Ms)} | ` +
				`${r.lost} / ${r.errors} | ${ratio === undefined ? "—" : `**${ratio.toFixed(2)}**`} |`,
		);
	}
	return lines.join("\n");
}

export function latencyTable(rows: ScenarioRow[]): string {
	const lines = [
		"| scenario | sockets | channels × sockets | offered msgs/s | of its closed-loop max | delivered msgs/s | socket receptions/s | p50 ms | p99 ms | max ms | ack p50 ms | lost / errors |",
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
	];
	for (const row of ofKind(rows, "fan-out").filter((r) => r.phase === "fixed rate")) {
		const r = row.result;
		lines.push(
			`| ${row.system} | ${rate(row.sockets)} | ${layoutCell(row)} | ${rate(r.sentPerSecond)} | ${percent(loadOfMax(row, rows))} | ` +
				`${rate(r.deliveredPerSecond)} | ${rate(r.receptionsPerSecond)} | ${ms(r.p50Ms)} | **${ms(r.p99Ms)}** | ${ms(r.maxMs)} | ${ms(r.ackP50Ms)} | ` +
				`${r.lost} / ${r.errors} |`,
		);
	}
	return lines.join("\n");
}

/** Colony's fixed-rate p99 over the bare relay's in the same one-channel scenario. */
export function p99ToBare(row: ScenarioRow, rows: ScenarioRow[]): number | undefined {
	if (row.system !== "colony") return undefined;
	const bare = rowOf(rows, "bare socket.io", row.phase, row.sockets, row.kind);
	return bare && bare.result.p99Ms > 0 ? row.result.p99Ms / bare.result.p99Ms : undefined;
}

export function oneChannelTable(rows: ScenarioRow[]): string {
	const lines = [
		"| scenario | sockets | channels × sockets | offered msgs/s | delivered msgs/s | socket receptions/s | p50 ms | p99 ms | max ms | ack p50 ms | lost / errors | p99 vs bare |",
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
	];
	for (const row of ofKind(rows, "one channel")) {
		const r = row.result;
		const ratio = p99ToBare(row, rows);
		lines.push(
			`| ${row.system} | ${rate(row.sockets)} | ${layoutCell(row)} | ${rate(r.sentPerSecond)} | ${rate(r.deliveredPerSecond)} | ` +
				`${rate(r.receptionsPerSecond)} | ${ms(r.p50Ms)} | **${ms(r.p99Ms)}** | ${ms(r.maxMs)} | ${ms(r.ackP50Ms)} | ${r.lost} / ${r.errors} | ` +
				`${ratio === undefined ? "—" : `**${ratio.toFixed(2)}**`} |`,
		);
	}
	return lines.join("\n");
}

/** The result tables of the scenarios measured, under their titles, as printed and as written to RESULTS.md. */
export function resultsTables(rows: ScenarioRow[], settings: RunSettings, heading = "###"): string {
	const sections: string[][] = [];
	if (ofKind(rows, "fan-out").length > 0) {
		sections.push([`${heading} ${throughputTitle(settings)}`, "", throughputTable(rows)]);
		sections.push([`${heading} ${latencyTitle(settings)}`, "", latencyTable(rows)]);
	}
	if (ofKind(rows, "one channel").length > 0) sections.push([`${heading} ${oneChannelTitle(settings)}`, "", oneChannelTable(rows)]);
	return sections.map((lines) => lines.join("\n")).join("\n\n");
}

/** CPU milliseconds the bench's own processes spent per fully delivered message (client included). */
export function cpuPerMessageMs(row: ScenarioRow): number {
	const delivered = row.result.deliveredPerSecond;
	return delivered > 0 ? (sum(benchShares(row)) / 100 / delivered) * 1_000 : Number.NaN;
}

export function cpuTable(rows: ScenarioRow[]): string {
	// The neighbours' column last, after the bench's own processes.
	const labels = [...new Set(rows.flatMap((row) => row.cpu.map((share) => share.label)))].sort(
		(a, b) => Number(a === OTHER_LOAD) - Number(b === OTHER_LOAD),
	);
	const lines = [
		`| scenario | sockets | channels × sockets | phase | delivered msgs/s | ${labels.join(" | ")} | bench total | CPU ms per message |`,
		`|---|---:|---:|---|---:|${labels.map(() => "---:|").join("")}---:|---:|`,
	];
	for (const row of rows) {
		const cells = labels.map((label) => {
			const share = row.cpu.find((s) => s.label === label);
			return share ? `${Math.round(share.percent)}%` : "—";
		});
		lines.push(
			`| ${row.system} | ${rate(row.sockets)} | ${layoutCell(row)} | ${row.phase} | ${rate(row.result.deliveredPerSecond)} | ${cells.join(" | ")} | ` +
				`${Math.round(sum(benchShares(row)))}% | ${ms(cpuPerMessageMs(row))} |`,
		);
	}
	return lines.join("\n");
}

export interface Verdict {
	kind: "p99" | "rate" | "p99 vs bare";
	target: string;
	met: boolean;
	detail: string;
}

export function verdicts(rows: ScenarioRow[], settings: RunSettings): Verdict[] {
	const found: Verdict[] = [];
	const atTarget = rowOf(rows, "colony", "fixed rate", TARGET_SOCKETS);
	if (atTarget) {
		const r = atTarget.result;
		const bare = rowOf(rows, "bare socket.io", "fixed rate", TARGET_SOCKETS);
		const closed = rowOf(rows, "colony", "throughput", TARGET_SOCKETS);
		// A p99 only counts when every message got through: dropped messages have no latency to rank.
		const complete = r.lost === 0 && r.errors === 0;
		found.push({
			kind: "p99",
			target: `p99 delivery latency ≤ ${P99_TARGET_MS} ms at ${rate(TARGET_SOCKETS)} sockets, judged at a fixed ${rate(settings.ratePerSecond)} msgs/s`,
			met: r.p99Ms <= P99_TARGET_MS && complete,
			detail:
				`p99 ${ms(r.p99Ms)} ms at ${percent(loadOfMax(atTarget, rows))} of Colony's closed-loop maximum` +
				(complete ? "" : `, ${r.lost} lost and ${r.errors} refused`) +
				(bare ? `; bare socket.io at the same rate: p99 ${ms(bare.result.p99Ms)} ms` : "") +
				(closed ? `; for comparison the closed loop's p99, queueing included, was ${ms(closed.result.p99Ms)} ms` : ""),
		});
	}
	for (const row of ofKind(rows, "fan-out").filter((r) => r.system === "colony" && r.phase === "throughput")) {
		const ratio = ratioToBare(row, rows) ?? 0;
		found.push({
			kind: "rate",
			target: `at ${rate(row.sockets)} sockets, at least ${RATE_TARGET_RATIO} × the bare broadcast's message rate, judged on the closed-loop throughput`,
			met: ratio >= RATE_TARGET_RATIO,
			detail: `${ratio.toFixed(2)} × (${rate(row.result.deliveredPerSecond)} vs ${rate(
				rowOf(rows, "bare socket.io", "throughput", row.sockets)?.result.deliveredPerSecond ?? 0,
			)} msgs/s)`,
		});
	}
	for (const row of ofKind(rows, "one channel").filter((r) => r.system === "colony")) found.push(oneChannelVerdict(row, rows, settings));
	return found;
}

/** A one-channel scenario: Colony's p99 within a factor of the bare relay's at the same rate, every message delivered. */
function oneChannelVerdict(row: ScenarioRow, rows: ScenarioRow[], settings: RunSettings): Verdict {
	const r = row.result;
	const bare = rowOf(rows, "bare socket.io", row.phase, row.sockets, row.kind);
	const ratio = p99ToBare(row, rows);
	const complete = r.lost === 0 && r.errors === 0;
	const bareComplete = bare !== undefined && bare.result.lost === 0 && bare.result.errors === 0;
	return {
		kind: "p99 vs bare",
		target:
			`one channel of ${rate(row.sockets)} sockets at a fixed ${rate(settings.oneChannelRatePerSecond)} msgs/s, Colony's p99 ≤ ` +
			`${ONE_CHANNEL_P99_RATIO} × the bare relay's p99 with every message delivered`,
		met: ratio !== undefined && ratio <= ONE_CHANNEL_P99_RATIO && complete,
		detail:
			(bare
				? `p99 ${ms(r.p99Ms)} ms vs ${ms(bare.result.p99Ms)} ms, ${ratio === undefined ? "—" : ratio.toFixed(2)} ×`
				: `p99 ${ms(r.p99Ms)} ms; the bare relay was not measured`) +
			`; ${complete ? "every message delivered" : `${r.lost} lost and ${r.errors} refused`}` +
			(bare && !bareComplete ? `; the bare relay itself lost ${bare.result.lost} and refused ${bare.result.errors}, so its p99 is not a sound yardstick` : ""),
	};
}

export function verdictLines(found: Verdict[]): string {
	return found.map((v) => `- ${v.target}: **${v.met ? "met" : "missed"}** (${v.detail})`).join("\n");
}

/** Whether a phase got any message through; one that did not has no rate or latency to reason about. */
function delivered(row: ScenarioRow): boolean {
	return row.result.deliveredPerSecond > 0 && !Number.isNaN(row.result.p50Ms);
}

function benchShares(row: ScenarioRow): CpuShare[] {
	return row.cpu.filter((share) => share.label !== OTHER_LOAD).sort((a, b) => b.percent - a.percent);
}

function otherLoad(row: ScenarioRow): number {
	return row.cpu.find((share) => share.label === OTHER_LOAD)?.percent ?? 0;
}

function sum(shares: CpuShare[]): number {
	return shares.reduce((total, share) => total + share.percent, 0);
}

function breakdown(shares: CpuShare[]): string {
	return shares.map((share) => `${share.label} ${Math.round(share.percent)}%`).join(", ");
}

/** What held the numbers back, from the CPU the processes used in the Colony windows at the target size. */
export function limitsParagraphs(rows: ScenarioRow[], found: Verdict[], machine: Machine, settings: RunSettings): string[] {
	const colonyRows = ofKind(rows, "fan-out").filter((r) => r.system === "colony");
	const sockets = colonyRows.some((r) => r.sockets === TARGET_SOCKETS) ? TARGET_SOCKETS : colonyRows[0]?.sockets;
	if (sockets === undefined) return [...oneChannelParagraphs(rows, machine), ...noisyParagraphs(rows), SEPARATE_MACHINES];
	const closed = rowOf(rows, "colony", "throughput", sockets);
	const fixed = rowOf(rows, "colony", "fixed rate", sockets);
	const bareClosed = rowOf(rows, "bare socket.io", "throughput", sockets);
	const bareFixed = rowOf(rows, "bare socket.io", "fixed rate", sockets);
	const capacity = machine.cores * 100;
	const paragraphs: string[] = [];

	const windows = [closed && `during its closed loop they used ${Math.round(sum(benchShares(closed)))}% (${breakdown(benchShares(closed))})`];
	if (fixed) {
		windows.push(`at the fixed ${rate(fixed.result.sentPerSecond)} msgs/s, ${Math.round(sum(benchShares(fixed)))}% (${breakdown(benchShares(fixed))})`);
	}
	const setting =
		`Everything ran on this one machine: the bench client holding every socket in one Node process, the gateway, ` +
		`the users,chat node, NATS, Redis and MariaDB share ${machine.cores} cores (${capacity}% CPU). ` +
		`In Colony's ${rate(sockets)}-socket scenario ${windows.filter(Boolean).join("; ")}.`;
	const noisy = rows.filter((r) => otherLoad(r) >= NOISY_PERCENT);
	paragraphs.push(
		noisy.length === 0
			? setting
			: `${setting} Processes outside the bench (other jobs on this shared machine) were busy too — ` +
					`${noisy.map((r) => `${Math.round(otherLoad(r))}% during ${r.system} at ${scenarioName(r)}, ${r.phase}`).join("; ")} — ` +
					"so those rows are worse than a quiet machine would give.",
	);

	const troubled = rows.filter((r) => r.result.lost > 0 || r.result.errors > 0);
	if (troubled.length > 0) {
		paragraphs.push(
			"**Not every message got through**, so these rows understate the system: " +
				troubled
					.map((r) => `${r.system} at ${scenarioName(r)}, ${r.phase}: ${r.result.lost} lost, ${r.result.errors} refused${r.result.lastError ? ` (${r.result.lastError})` : ""}`)
					.join("; ") +
				".",
		);
	}

	if (closed && bareClosed && delivered(closed) && delivered(bareClosed)) {
		const colonyCost = cpuPerMessageMs(closed);
		const bareCost = cpuPerMessageMs(bareClosed);
		const rateMissed = found.some((v) => v.kind === "rate" && !v.met);
		paragraphs.push(
			`**Message rate.** Summed over its processes, Colony spent ${ms(colonyCost)} ms of CPU per delivered message ` +
				`in the closed loop against the bare server's ${ms(bareCost)} ms (both including the client's ` +
				`${rate(closed.sockets / closed.channels)} receptions): a socket.io call through moleculer-io, a NATS request ` +
				`and reply, the SQL round trips to MariaDB with AES-GCM sealing and a NATS broadcast back to the gateway come ` +
				`before the same fan-out. When the client, the servers and the database share ${machine.cores} cores that both ` +
				`closed loops keep busy, the rate ratio tends to the ratio of those costs, ${(bareCost / colonyCost).toFixed(2)}` +
				(rateMissed ? `, below ${RATE_TARGET_RATIO} however fast each part is on its own.` : "."),
		);
	}

	const latency: string[] = [];
	if (closed && delivered(closed)) {
		const inFlight = closed.channels * settings.inFlight;
		const queued = (inFlight / closed.result.deliveredPerSecond) * 1_000;
		latency.push(
			`**Latency.** The closed loop's latencies are mostly queueing: ${inFlight} messages in flight ` +
				`(${settings.inFlight} per channel × ${closed.channels}) at ${rate(closed.result.deliveredPerSecond)} msgs/s wait ` +
				`about ${ms(queued)} ms each (Little's law), which is what its p50 of ${ms(closed.result.p50Ms)} ms shows` +
				(bareClosed ? `; the bare server at its own maximum has a p99 of ${ms(bareClosed.result.p99Ms)} ms too.` : "."),
		);
	}
	if (fixed && delivered(fixed)) {
		const share = loadOfMax(fixed, rows);
		const p99Missed = found.some((v) => v.kind === "p99" && !v.met);
		const f = fixed.result;
		latency.push(
			`At a fixed ${rate(f.sentPerSecond)} msgs/s (${percent(share)} of what Colony sustained) the bench builds no queue in front: ` +
				`p50 ${ms(f.p50Ms)} ms, p99 ${ms(f.p99Ms)} ms, max ${ms(f.maxMs)} ms` +
				(bareFixed && delivered(bareFixed)
					? ` against the bare server's ${ms(bareFixed.result.p50Ms)} / ${ms(bareFixed.result.p99Ms)} / ${ms(bareFixed.result.maxMs)} ms ` +
						`at the same rate, so the path through the gateway, NATS, the chat node and MariaDB adds about ` +
						`${ms(f.p50Ms - bareFixed.result.p50Ms)} ms at the median and ${ms(f.p99Ms - bareFixed.result.p99Ms)} ms at the 99th percentile.`
					: "."),
		);
		latency.push(
			`A message reaches its ${rate(fixed.sockets / fixed.channels)} sockets over ${ms(f.spreadP50Ms)} ms ` +
				`(median from its first to its last reception${bareFixed ? `; bare: ${ms(bareFixed.result.spreadP50Ms)} ms` : ""}), ` +
				"as the gateway writes the frames one after another and the single client process reads them in turn.",
		);
		latency.push(
			`The verdict holds at this rate only: between it and the closed loop's maximum the latency rises towards ` +
				"the closed loop's, and this run does not measure where its p99 crosses " +
				`${P99_TARGET_MS} ms (runs with a higher \`BENCH_RATE\` can find it).`,
		);
		if (share !== undefined && share >= 0.7) {
			latency.push(
				`This rate is close to Colony's maximum on this machine, so part of that latency is still queueing; ` +
					"a lower `BENCH_RATE` shows the path alone.",
			);
		}
		if (p99Missed) {
			latency.push(
				`The p99 target is missed even without a queue from the bench, with ${Math.round(sum(benchShares(fixed)))}% of ` +
					`${capacity}% CPU busy in that window.`,
			);
		}
	}
	if (latency.length > 0) paragraphs.push(latency.join(" "));

	paragraphs.push(...oneChannelParagraphs(rows, machine), SEPARATE_MACHINES);
	return paragraphs;
}

const SEPARATE_MACHINES =
	"On separate machines for the client, the database and NATS, Colony's gateway and chat node would get the " +
	"cores to themselves; this run cannot say how much that changes.";

function scenarioName(row: ScenarioRow): string {
	return row.kind === "one channel" ? `${rate(row.sockets)} sockets in one channel` : rate(row.sockets);
}

/** What Colony adds to the bare relay's latency in each one-channel scenario, and what the machine was doing. */
function oneChannelParagraphs(rows: ScenarioRow[], machine: Machine): string[] {
	const colonyRows = ofKind(rows, "one channel").filter((row) => row.system === "colony" && delivered(row));
	const paragraphs = colonyRows.map((row) => {
		const r = row.result;
		const bare = rowOf(rows, "bare socket.io", row.phase, row.sockets, row.kind);
		const comparison =
			bare && delivered(bare)
				? ` against the bare relay's ${ms(bare.result.p50Ms)} / ${ms(bare.result.p99Ms)} / ${ms(bare.result.maxMs)} ms: ` +
					`the path through the gateway, NATS, the chat node and MariaDB adds about ${ms(r.p50Ms - bare.result.p50Ms)} ms at the ` +
					`median and ${ms(r.p99Ms - bare.result.p99Ms)} ms at the 99th percentile`
				: "";
		return (
			`**One channel of ${rate(row.sockets)} sockets.** At a fixed ${rate(r.sentPerSecond)} msgs/s Colony delivered with ` +
			`p50 ${ms(r.p50Ms)} ms, p99 ${ms(r.p99Ms)} ms, max ${ms(r.maxMs)} ms${comparison}. A message reaches its ` +
			`${rate(row.sockets)} sockets over ${ms(r.spreadP50Ms)} ms (median from its first to its last reception` +
			`${bare ? `; bare: ${ms(bare.result.spreadP50Ms)} ms` : ""}), as the gateway writes the frames one after another ` +
			"and the single client process reads them in turn. " +
			`In that window the bench's processes used ${Math.round(sum(benchShares(row)))}% of ${machine.cores * 100}% CPU ` +
			`(${breakdown(benchShares(row))}).`
		);
	});
	return paragraphs;
}

/** Without a fan-out scenario, whose first paragraph says it, the neighbours' load is said on its own. */
function noisyParagraphs(rows: ScenarioRow[]): string[] {
	const noisy = rows.filter((row) => otherLoad(row) >= NOISY_PERCENT);
	if (noisy.length === 0) return [];
	return [
		"Processes outside the bench (other jobs on this shared machine) were busy during " +
			`${noisy.map((row) => `${row.system} at ${scenarioName(row)}, ${row.phase} (${Math.round(otherLoad(row))}%)`).join("; ")}, ` +
			"so those rows are worse than a quiet machine would give.",
	];
}

function layouts(rows: ScenarioRow[]): string {
	// Every scenario has a fixed-rate phase: one row each.
	return rows
		.filter((row) => row.system === "colony" && row.phase === "fixed rate")
		.map((row) => {
			const usersPerChannel = row.users / row.channels;
			const socketsPerUser = row.sockets / row.users;
			return `${scenarioName(row)}: ${row.channels} channel${row.channels === 1 ? "" : "s"} of ${usersPerChannel} users × ${socketsPerUser} socket${socketsPerUser === 1 ? "" : "s"}`;
		})
		.join("; ");
}

function perChannelRates(rows: ScenarioRow[], settings: RunSettings): string {
	const channelCounts = [...new Set(ofKind(rows, "fan-out").filter((row) => row.phase === "fixed rate").map((row) => row.channels))];
	return channelCounts
		.map((channels) => `${rate(settings.ratePerSecond / channels)} msgs/s per channel with ${channels} channel${channels === 1 ? "" : "s"}`)
		.join(", ");
}

/** bench/RESULTS.md: the tables of this run, where it ran, against the targets, and what limited it. */
export function resultsMarkdown(rows: ScenarioRow[], machine: Machine, settings: RunSettings, code: string, date: Date): string {
	const found = verdicts(rows, settings);
	const lagMax = Math.max(0, ...rows.filter((row) => row.phase === "fixed rate").map((row) => row.result.sendLagMaxMs));
	return [
		"# Chat fan-out benchmark",
		"",
		`Written by \`npm run bench:chat\` (bench/chat.ts) on ${date.toISOString().replace("T", " ").slice(0, 16)} UTC.`,
		"",
		`**Machine:** ${machineLine(machine)}; the client, both systems, NATS, Redis and MariaDB all on it.`,
		"",
		`**Code:** ${code}.`,
		"",
		`Fan-out scenarios (channels of ${settings.channelSize}) are measured in two phases: the closed loop finds the highest ` +
			"rate each system sustains, and the rate target is judged on it; its latencies are mostly the wait behind the " +
			`messages in flight. The fixed-rate phase then offers ${rate(settings.ratePerSecond)} msgs/s, well below that ` +
			"maximum, and the p99 target is judged on it. One-channel scenarios put every socket in one channel, one user " +
			`each, and are measured at a fixed ${rate(settings.oneChannelRatePerSecond)} msgs/s only: there Colony's p99 is ` +
			"judged against the bare relay's.",
		"",
		resultsTables(rows, settings, "##"),
		"",
		"## Targets",
		"",
		verdictLines(found),
		"",
		"## What limits the result",
		"",
		limitsParagraphs(rows, found, machine, settings).join("\n\n"),
		"",
		"CPU used during each measured window (100% is one core; the servers are found by process name; *other load* " +
			"is the machine's busy time not charged to any of these processes — other jobs on a shared machine, kernel work — " +
			"and a window with more than " +
			`${NOISY_PERCENT}% of it is measured again, up to three times, keeping the quietest; at the fixed rate the ` +
			"processes' cost of merely running — socket pings, timers, presence leases — is spread over fewer messages, so " +
			"its *CPU ms per message* is higher than the closed loop's):",
		"",
		cpuTable(rows),
		"",
		"## How it is measured",
		"",
		"- **colony**: two processes built from `dist/server.js` — `SERVICES=users,chat` on two MariaDB databases " +
			"created for the run (and dropped after it) and `SERVICES=api` on 127.0.0.1 — joined by NATS, sharing " +
			"Redis, `LOG_LEVEL=warn`. " +
			"As many users as the largest scenario needs are registered and signed in over REST; a scenario uses the " +
			`first of them, and a user has several sockets when it needs more sockets than users (${layouts(rows)}). ` +
			"Messages are sent with the socket `call(\"chat.send\", { channelId, text })` and received as `chat.message`.",
		"- **bare socket.io**: `bench/bare-server.ts` in its own process; a socket joins the room named in its " +
			"handshake, and its `send` is broadcast with `io.to(room).emit(\"chat.message\", …)` in the shape of " +
			"Colony's message, then acknowledged. Same scenarios, same rooms, same run.",
		"- Each channel's first socket sends into it. The text carries the send time; every socket records " +
			"send-to-receive latency on the bench's monotonic clock. p50/p99/max are over all socket receptions of " +
			"messages sent in the window; *ack p50* is the sender's wait for the server's acknowledgement. A message " +
			"not received by every socket of its channel within 5 s is *lost*; *errors* are sends the server refused.",
		`- **Throughput phase** (closed loop): per channel ${settings.inFlight} messages in flight; a slot sends its next ` +
			"message once the last one is acknowledged **and** received by every socket of the channel, so no backlog " +
			`builds up unseen. ${settings.warmupMs / 1_000} s warm-up, then ${settings.durationMs / 1_000} s measured. ` +
			"*delivered msgs/s* counts messages fully delivered during the window; *socket receptions/s* is that times " +
			"the room size. *vs bare* is Colony's delivered rate over the bare server's at the same socket count.",
		`- **Fixed-rate phase** (open loop), on the same sockets right after: ${rate(settings.ratePerSecond)} msgs/s in ` +
			`total, split evenly over the channels (${perChannelRates(rows, settings)}). Each channel sends on a timer of ` +
			"its own, whatever happened to its earlier messages, and the channels' schedules are staggered so the total " +
			`stream is evenly spaced — no bursts. ${settings.warmupMs / 1_000} s warm-up, then ` +
			`${settings.rateDurationMs / 1_000} s measured; the schedule stops when the window closes, so every run sends ` +
			"a known number of messages. Latency counts from the moment a message was due, so a late timer in the client " +
			`adds to the result instead of hiding a slow moment (the client's timers were at most ${ms(lagMax)} ms late ` +
			"in this run). *of its closed-loop max* is the offered rate over what the same system delivered in the " +
			"throughput phase at the same socket count.",
		`- **One channel** (open loop only): every socket in one channel, one user per socket; its first socket sends ` +
			`${rate(settings.oneChannelRatePerSecond)} msgs/s on the same fixed schedule, with the same warm-up and window. ` +
			"*p99 vs bare* is Colony's p99 over the bare relay's in the same scenario; the target also wants no message " +
			"lost or refused.",
		"- All sockets are socket.io-client 4.8 with `transports: [\"websocket\"]`, one process, traffic to 127.0.0.1 only.",
		"- The rates, durations and socket counts are set from the environment; see *Benchmarks* in README.md.",
		"",
	].join("\n");
}

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
		const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, encoding: "utf8", timeout: 5_000 }).trim();
		const commit = git("rev-parse", "--short", "HEAD");
		const changed = git("status", "--porcelain", "--", "server.ts", "moleculer.config.ts", "services", "mixins", "lib", "migrations", "types")
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

export interface ScenarioRow {
	system: "colony" | "bare socket.io";
	sockets: number;
	channels: number;
	users: number;
	result: LoadResult;
	cpu: CpuShare[];
}

function rate(value: number): string {
	return Math.round(value).toLocaleString("en-US");
}

function ms(value: number): string {
	if (Number.isNaN(value)) return "—";
	return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

/** Colony's delivered rate over the bare server's at the same socket count. */
export function ratioToBare(row: ScenarioRow, rows: ScenarioRow[]): number | undefined {
	if (row.system !== "colony") return undefined;
	const bare = rows.find((other) => other.system === "bare socket.io" && other.sockets === row.sockets);
	if (!bare || bare.result.deliveredPerSecond === 0) return undefined;
	return row.result.deliveredPerSecond / bare.result.deliveredPerSecond;
}

export function resultsTable(rows: ScenarioRow[]): string {
	const lines = [
		"| scenario | sockets | channels × sockets | sent msgs/s | delivered msgs/s | socket receptions/s | p50 ms | p99 ms | max ms | ack p50 ms | lost / errors | vs bare |",
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
	];
	for (const row of rows) {
		const ratio = ratioToBare(row, rows);
		const r = row.result;
		lines.push(
			`| ${row.system} | ${rate(row.sockets)} | ${row.channels} × ${row.sockets / row.channels} | ${rate(r.sentPerSecond)} | ` +
				`${rate(r.deliveredPerSecond)} | ${rate(r.receptionsPerSecond)} | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${ms(r.maxMs)} | ${ms(r.ackP50Ms)} | ` +
				`${r.lost} / ${r.errors} | ${ratio === undefined ? "—" : ratio.toFixed(2)} |`,
		);
	}
	return lines.join("\n");
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
		`| scenario | sockets | ${labels.join(" | ")} | bench total | CPU ms per message |`,
		`|---|---:|${labels.map(() => "---:|").join("")}---:|---:|`,
	];
	for (const row of rows) {
		const cells = labels.map((label) => {
			const share = row.cpu.find((s) => s.label === label);
			return share ? `${Math.round(share.percent)}%` : "—";
		});
		lines.push(
			`| ${row.system} | ${rate(row.sockets)} | ${cells.join(" | ")} | ${Math.round(sum(benchShares(row)))}% | ${ms(cpuPerMessageMs(row))} |`,
		);
	}
	return lines.join("\n");
}

export interface Verdict {
	target: string;
	met: boolean;
	detail: string;
}

export const P99_TARGET_MS = 50;
export const TARGET_SOCKETS = 1_000;
export const RATE_TARGET_RATIO = 0.5;

export function verdicts(rows: ScenarioRow[]): Verdict[] {
	const found: Verdict[] = [];
	const atTarget = rows.find((row) => row.system === "colony" && row.sockets === TARGET_SOCKETS);
	if (atTarget) {
		const p99 = atTarget.result.p99Ms;
		found.push({
			target: `p99 delivery latency ≤ ${P99_TARGET_MS} ms at ${rate(TARGET_SOCKETS)} sockets`,
			met: p99 <= P99_TARGET_MS,
			detail: `p99 ${ms(p99)} ms`,
		});
	}
	for (const row of rows.filter((r) => r.system === "colony")) {
		const ratio = ratioToBare(row, rows) ?? 0;
		found.push({
			target: `at ${rate(row.sockets)} sockets, at least ${RATE_TARGET_RATIO} × the bare broadcast's message rate`,
			met: ratio >= RATE_TARGET_RATIO,
			detail: `${ratio.toFixed(2)} × (${rate(row.result.deliveredPerSecond)} vs ${rate(
				rows.find((r) => r.system === "bare socket.io" && r.sockets === row.sockets)?.result.deliveredPerSecond ?? 0,
			)} msgs/s)`,
		});
	}
	return found;
}

export function verdictLines(found: Verdict[]): string {
	return found.map((v) => `- ${v.target}: **${v.met ? "met" : "missed"}** (${v.detail})`).join("\n");
}

/** Neighbour load during a window, in % of one core, above which a row is marked as disturbed. */
export const NOISY_PERCENT = 25;

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

/** What held the numbers back, from the CPU the processes used during the Colony window at the target size. */
export function limitsParagraph(rows: ScenarioRow[], found: Verdict[], machine: Machine, settings: RunSettings): string {
	const row = rows.find((r) => r.system === "colony" && r.sockets === TARGET_SOCKETS) ?? rows.find((r) => r.system === "colony");
	if (!row) return "";
	const bare = rows.find((r) => r.system === "bare socket.io" && r.sockets === row.sockets);
	const capacity = machine.cores * 100;
	const ours = benchShares(row);
	const missed = found.filter((v) => !v.met);
	const parts: string[] = [
		`Everything ran on this one machine: the bench client holding every socket in one Node process, the gateway, ` +
			`the users,chat node, NATS, Redis and MariaDB share ${machine.cores} cores (${capacity}% CPU). ` +
			`During Colony's ${rate(row.sockets)}-socket window they used ${Math.round(sum(ours))}% (${breakdown(ours)}).`,
	];
	const noisy = rows.filter((r) => otherLoad(r) >= NOISY_PERCENT);
	if (noisy.length > 0) {
		parts.push(
			`Processes outside the bench (other jobs on this shared machine) were busy too — ` +
				`${noisy.map((r) => `${Math.round(otherLoad(r))}% during ${r.system} at ${rate(r.sockets)}`).join(", ")} — ` +
				"so those rows are lower than a quiet machine would give.",
		);
	}
	if (missed.length === 0) {
		parts.push("Both targets were met on this machine.");
		return parts.join(" ");
	}
	if (bare) {
		const colonyCost = cpuPerMessageMs(row);
		const bareCost = cpuPerMessageMs(bare);
		parts.push(
			`Summed over its processes, Colony spent ${ms(colonyCost)} ms of CPU per delivered message against the bare ` +
				`server's ${ms(bareCost)} ms (both including the client's ${rate(row.sockets / row.channels)} receptions): ` +
				`a socket.io call through moleculer-io, a NATS request and reply, the SQL round trips to MariaDB with AES-GCM ` +
				`sealing and a NATS broadcast back to the gateway come before the same fan-out. When the client, the ` +
				`servers and the database share ${machine.cores} cores that both runs keep busy, the rate ratio tends to the ` +
				`ratio of those costs, ${(bareCost / colonyCost).toFixed(2)}, however fast each part is on its own.`,
		);
	}
	const inFlight = row.channels * settings.inFlight;
	const queued = (inFlight / row.result.deliveredPerSecond) * 1_000;
	const neededRate = inFlight / (P99_TARGET_MS / 1_000);
	parts.push(
		`Latency follows from the closed loop: ${inFlight} messages in flight (${settings.inFlight} per channel × ` +
			`${row.channels}) at ${rate(row.result.deliveredPerSecond)} msgs/s wait about ${ms(queued)} ms each ` +
			`(Little's law), which is what the p50 shows; under this loop a p99 of ${P99_TARGET_MS} ms needs more than ` +
			`${rate(neededRate)} msgs/s` +
			(bare
				? `, and the bare server itself, at ${rate(bare.result.deliveredPerSecond)} msgs/s, has a p50 of ${ms(bare.result.p50Ms)} ms and a p99 of ${ms(bare.result.p99Ms)} ms.`
				: "."),
	);
	parts.push(
		"The targets would be judged fairly with the client, the database and NATS on machines of their own, where " +
			"Colony's gateway and chat node get the cores to themselves.",
	);
	return parts.join(" ");
}

export interface RunSettings {
	warmupMs: number;
	durationMs: number;
	inFlight: number;
	users: number;
	channelSize: number;
}

function layouts(rows: ScenarioRow[]): string {
	return rows
		.filter((row) => row.system === "colony")
		.map((row) => {
			const usersPerChannel = row.users / row.channels;
			const socketsPerUser = row.sockets / row.users;
			return `${rate(row.sockets)} sockets: ${row.channels} channel${row.channels === 1 ? "" : "s"} of ${usersPerChannel} users × ${socketsPerUser} socket${socketsPerUser === 1 ? "" : "s"}`;
		})
		.join("; ");
}

/** bench/RESULTS.md: the table of this run, where it ran, against the targets, and what limited it. */
export function resultsMarkdown(rows: ScenarioRow[], machine: Machine, settings: RunSettings, code: string, date: Date): string {
	const found = verdicts(rows);
	return [
		"# Chat fan-out benchmark",
		"",
		`Written by \`npm run bench:chat\` (bench/chat.ts) on ${date.toISOString().replace("T", " ").slice(0, 16)} UTC.`,
		"",
		`**Machine:** ${machineLine(machine)}.`,
		"",
		`**Code:** ${code}.`,
		"",
		resultsTable(rows),
		"",
		"## Targets",
		"",
		verdictLines(found),
		"",
		"## What limits the result",
		"",
		limitsParagraph(rows, found, machine, settings),
		"",
		"CPU used during each measured window (100% is one core; the servers are found by process name; *other load* " +
			"is the machine's busy time not charged to any of these processes — other jobs on a shared machine, kernel work — " +
			"and a window with more than " +
			`${NOISY_PERCENT}% of it is measured again, up to three times, keeping the quietest):`,
		"",
		cpuTable(rows),
		"",
		"## How it is measured",
		"",
		"- **colony**: two processes built from `dist/server.js` — `SERVICES=users,chat` on two MariaDB databases " +
			"created for the run (and dropped after it) and `SERVICES=api` on 127.0.0.1 — joined by NATS, sharing " +
			"Redis, `LOG_LEVEL=warn`. " +
			`${settings.users} users registered and signed in over REST; a user has several sockets when a scenario needs ` +
			`more sockets than users (${layouts(rows)}). ` +
			"Messages are sent with the socket `call(\"chat.send\", { channelId, text })` and received as `chat.message`.",
		"- **bare socket.io**: `bench/bare-server.ts` in its own process; a socket joins the room named in its " +
			"handshake, and its `send` is broadcast with `io.to(room).emit(\"chat.message\", …)` in the shape of " +
			"Colony's message, then acknowledged. Same socket counts, same rooms of " +
			`${settings.channelSize} sockets.`,
		`- Per channel one sender keeps ${settings.inFlight} messages in flight: a slot sends its next message once ` +
			"the last one is acknowledged **and** received by every socket of the channel (a closed loop, so no " +
			"backlog builds up unseen). The text carries the send time; every socket records send-to-receive latency " +
			"on the bench's monotonic clock. p50/p99 are over all socket receptions of messages sent in the window; " +
			"*ack p50* is the sender's wait for the server's acknowledgement.",
		`- ${settings.warmupMs / 1_000} s warm-up, then ${settings.durationMs / 1_000} s measured. *delivered msgs/s* ` +
			"counts messages fully delivered during the window; *socket receptions/s* is that times the room size. " +
			"*vs bare* is Colony's delivered rate over the bare server's at the same socket count.",
		"- All sockets are socket.io-client 4.8 with `transports: [\"websocket\"]`, one process, traffic to 127.0.0.1 only.",
		"",
	].join("\n");
}

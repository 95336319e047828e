import { ACTION_WEIGHTS, OPERATIONS, type WindowStats } from "./load-users";
import { OTHER_LOAD, type CpuShare, type MemoryUse } from "./processes";
import { machineLine, type Machine } from "./report";

/** The health limits of the issue: beyond any of them a step is not held. */
export const HEALTH = { avgMs: 100, p99Ms: 2_000, failureFraction: 0.000_25 } as const;
export const USERS_TARGET = 2_000;
/** Mattermost's published ceiling of concurrent users on one 2-vCPU node: the external reference. */
export const MATTERMOST_2_VCPU_USERS = 217;
/** Memory budgets per node kind, DESIGN §1 (docker limits), MiB. */
export const MEMORY_BUDGET_MIB: Record<string, number> = { api: 512, users: 512, chat: 1_024, notifications: 256 };

export interface LoadSettings {
	baselineUsers: number;
	stepUsers: number;
	maxUsers: number;
	meanIntervalMs: number;
	windowMs: number;
	settleMs: number;
	timeoutMs: number;
	channelSize: number;
	channelsPerUser: number;
}

export interface StepRow {
	label: string;
	/** Users with an open socket during the window. */
	users: number;
	connectAttempts: number;
	connectFailures: number;
	connectLastError: string | undefined;
	connectSeconds: number;
	stats: WindowStats;
	cpu: CpuShare[];
	/** Resident memory of each node at the end of the window. */
	memory: { label: string; use: MemoryUse | undefined }[];
	verdict: Health;
	/** An unhealthy window followed by a second one of the same users, which decides the step. */
	measuredAgain: boolean;
}

export interface Health {
	healthy: boolean;
	/** Why not, one phrase per limit crossed. */
	reasons: string[];
}

export interface PeakMemory {
	label: string;
	service: string | undefined;
	/** VmHWM at the end of the run: the highest resident set over the whole run, sign-ups included. */
	peakMiB: number | undefined;
	/** The highest VmRSS seen at the end of a measured window: the ramp's own peak. */
	rampPeakMiB: number | undefined;
}

export interface LoadRun {
	settings: LoadSettings;
	machine: Machine;
	code: string;
	rows: StepRow[];
	poolUsers: number;
	signUpSeconds: number;
	channels: number;
	peaks: PeakMemory[];
	/** Why the ramp ended. */
	stopReason: string;
	disconnects: number;
	/** The last lines each node wrote, kept when something failed. */
	nodeLogs: { node: string; tail: string }[];
}

export function failuresOf(row: StepRow): number {
	const s = row.stats;
	return s.serverErrors + s.clientErrors + s.timeouts + s.networkErrors + row.connectFailures;
}

export function judge(stats: WindowStats, connectAttempts: number, connectFailures: number): Health {
	const reasons: string[] = [];
	if (stats.operations === 0) reasons.push("no operation completed");
	if (stats.avgMs > HEALTH.avgMs) reasons.push(`average ${ms(stats.avgMs)} ms > ${HEALTH.avgMs} ms`);
	if (stats.p99Ms > HEALTH.p99Ms) reasons.push(`p99 ${ms(stats.p99Ms)} ms > ${HEALTH.p99Ms} ms`);
	const failures = stats.serverErrors + stats.clientErrors + stats.timeouts + stats.networkErrors + connectFailures;
	const attempts = stats.operations + connectAttempts;
	if (attempts > 0 && failures / attempts > HEALTH.failureFraction) {
		reasons.push(`${failures} failures of ${attempts} operations (${pct(failures / attempts)}) > ${pct(HEALTH.failureFraction)}`);
	}
	if (stats.expectedReceptions > 0 && stats.lostReceptions / stats.expectedReceptions > HEALTH.failureFraction) {
		reasons.push(`${stats.lostReceptions} of ${stats.expectedReceptions} pushes lost`);
	}
	return { healthy: reasons.length === 0, reasons };
}

/** The largest step that was healthy, and every step before it too (a ramp stops at its first unhealthy step). */
export function usersHeld(rows: StepRow[]): number {
	let held = 0;
	for (const row of rows) {
		if (row.measuredAgain) continue;
		if (!row.verdict.healthy) break;
		held = row.users;
	}
	return held;
}

function ms(value: number): string {
	if (Number.isNaN(value)) return "—";
	return value < 10 ? value.toFixed(2) : value < 1_000 ? value.toFixed(1) : Math.round(value).toLocaleString("en-US");
}

function pct(fraction: number): string {
	return `${(fraction * 100).toFixed(fraction < 0.01 ? 3 : 1)}%`;
}

function count(value: number): string {
	return Math.round(value).toLocaleString("en-US");
}

function ratio(value: number, base: number): string {
	return Number.isFinite(value / base) && base > 0 ? `${(value / base).toFixed(1)}×` : "—";
}

function cpuCell(shares: CpuShare[]): string {
	const own = shares.filter((share) => share.label !== OTHER_LOAD && Math.round(share.percent) > 0);
	const other = shares.find((share) => share.label === OTHER_LOAD);
	const cells = own.map((share) => `${share.label} ${Math.round(share.percent)}%`);
	if (other) cells.push(`other ${Math.round(other.percent)}%`);
	return cells.join(", ");
}

function memoryCell(memory: StepRow["memory"]): string {
	return memory.map(({ label, use }) => `${label} ${use ? Math.round(use.rssMiB) : "—"}`).join(", ");
}

function failureCell(row: StepRow): string {
	const s = row.stats;
	const parts = [
		s.serverErrors > 0 ? `${s.serverErrors} 5xx` : "",
		s.clientErrors > 0 ? `${s.clientErrors} 4xx` : "",
		s.timeouts > 0 ? `${s.timeouts} timeouts` : "",
		s.networkErrors > 0 ? `${s.networkErrors} network` : "",
		row.connectFailures > 0 ? `${row.connectFailures} connects` : "",
	].filter(Boolean);
	return parts.length === 0 ? "0" : parts.join(", ");
}

export function stepTable(rows: StepRow[]): string {
	const base = rows[0]?.stats;
	const lines = [
		"| step | users | new sockets connected in s | actions/s | requests/s | avg ms | p50 ms | p99 ms | max ms | vs baseline (avg, p99) | failures | pushes/s (lost) | push p99 ms | healthy | CPU per process (100% = one core) | RSS MiB per node |",
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---|---|",
	];
	for (const row of rows) {
		const s = row.stats;
		const seconds = s.durationMs / 1_000;
		const actions = s.actions.send + s.actions.switch + s.actions.react;
		lines.push(
			`| ${row.label} | **${count(row.users)}** | ${row.connectSeconds.toFixed(1)} | ${(actions / seconds).toFixed(1)} | ${(s.operations / seconds).toFixed(1)} | ${ms(s.avgMs)} | ${ms(s.p50Ms)} | ` +
				`${ms(s.p99Ms)} | ${ms(s.maxMs)} | ${base ? `${ratio(s.avgMs, base.avgMs)}, ${ratio(s.p99Ms, base.p99Ms)}` : "—"} | ${failureCell(row)} | ` +
				`${count(s.pushesPerSecond)} (${count(s.lostReceptions)}) | ${ms(s.pushP99Ms)} | ${row.verdict.healthy ? "yes" : `**no**: ${row.verdict.reasons.join("; ")}${row.measuredAgain ? " (measured again)" : ""}`} | ` +
				`${cpuCell(row.cpu)} | ${memoryCell(row.memory)} |`,
		);
	}
	return lines.join("\n");
}

/** p50 and p99 of each kind of request at each step: which path slows first. */
export function operationTable(rows: StepRow[]): string {
	const lines = [
		`| step | ${OPERATIONS.map((op) => `${op} n / p50 / p99 ms`).join(" | ")} | client event-loop p99 ms |`,
		`|---|${OPERATIONS.map(() => "---:").join("|")}|---:|`,
	];
	for (const row of rows) {
		const cells = OPERATIONS.map((op) => {
			const stats = row.stats.byOperation[op];
			return `${count(stats.count)} / ${ms(stats.p50Ms)} / ${ms(stats.p99Ms)}`;
		});
		lines.push(`| ${row.label} | ${cells.join(" | ")} | ${ms(row.stats.clientLoopDelayP99Ms)} |`);
	}
	return lines.join("\n");
}

export function memoryTable(peaks: PeakMemory[]): string {
	const lines = [
		"| node | peak RSS over the run (VmHWM) MiB | highest RSS at the end of a window MiB | budget (DESIGN §1) MiB | verdict |",
		"|---|---:|---:|---:|---|",
	];
	for (const peak of peaks) {
		const budget = peak.service === undefined ? undefined : MEMORY_BUDGET_MIB[peak.service];
		const value = (mib: number | undefined) => (mib === undefined ? "—" : count(mib));
		const verdict = budget === undefined || peak.peakMiB === undefined ? "—" : peak.peakMiB <= budget ? "within" : "**over**";
		lines.push(`| ${peak.label} | ${value(peak.peakMiB)} | ${value(peak.rampPeakMiB)} | ${budget === undefined ? "—" : count(budget)} | ${verdict} |`);
	}
	return lines.join("\n");
}

export function verdictLines(run: LoadRun): string[] {
	const held = usersHeld(run.rows);
	const capped = run.rows.length > 0 && run.rows[run.rows.length - 1].verdict.healthy;
	const lines = [
		`- at least ${count(USERS_TARGET)} concurrent users held: **${held >= USERS_TARGET ? "met" : "missed"}** (${count(held)} held${
			capped ? `; the last step was healthy, so the ramp's end (${run.stopReason}) bounds it, not the platform` : ""
		}; Mattermost's published ceiling on a 2-vCPU node: ${MATTERMOST_2_VCPU_USERS}, i.e. ${(held / MATTERMOST_2_VCPU_USERS).toFixed(1)}×)`,
	];
	for (const peak of run.peaks) {
		const budget = peak.service === undefined ? undefined : MEMORY_BUDGET_MIB[peak.service];
		if (budget === undefined) continue;
		const within = peak.peakMiB !== undefined && peak.peakMiB <= budget;
		lines.push(
			`- ${peak.label} within its ${count(budget)} MiB budget: **${within ? "met" : "missed"}** (peak over the run ${
				peak.peakMiB === undefined ? "unknown" : `${count(peak.peakMiB)} MiB`
			}${peak.rampPeakMiB === undefined ? "" : `; at most ${count(peak.rampPeakMiB)} MiB at the end of a measured window`})`,
		);
	}
	return lines;
}

/** The process that used the most CPU in the last measured step, and how busy the machine was then. */
export function limitsParagraphs(run: LoadRun): string[] {
	const last = run.rows[run.rows.length - 1];
	const held = run.rows.filter((row) => row.verdict.healthy && !row.measuredAgain).pop();
	if (!last) return ["No step was measured."];
	const total = (row: StepRow) => row.cpu.reduce((sum, share) => sum + share.percent, 0);
	const busiest = [...last.cpu].filter((share) => share.label !== OTHER_LOAD).sort((a, b) => b.percent - a.percent);
	const top = busiest[0];
	const client = last.cpu.find((share) => share.label === "bench client");
	const paragraphs = [
		`Everything ran on this one machine: the bench client (${count(last.users)} sockets and their REST requests), the four Colony nodes and ` +
			`the NATS, Redis and MariaDB servers share ${run.machine.cores} cores (${run.machine.cores * 100}% CPU). In the last step (${last.label}, ` +
			`${count(last.users)} users) they used ${Math.round(total(last))}% in all: ${cpuCell(last.cpu)}.`,
	];
	if (last.verdict.healthy) {
		paragraphs.push(
			`The last step was healthy: the ramp ended because ${run.stopReason}, so ${count(usersHeld(run.rows))} users is a floor of what the platform holds on this machine, not its ceiling.`,
		);
	} else {
		paragraphs.push(
			`The ramp stopped at ${last.label} (${count(last.users)} users): ${last.verdict.reasons.join("; ")}. ` +
				`${top ? `The busiest process then was the ${top.label} at ${Math.round(top.percent)}% of a core` : ""}` +
				`${top && top.percent >= 85 ? " — a Node process's main thread is saturated near 100%, so it is the bottleneck" : ""}` +
				`${total(last) >= run.machine.cores * 90 ? `, and the machine's ${run.machine.cores} cores were busy altogether` : ""}.` +
				(held ? ` The last healthy step was ${held.label} (${count(held.users)} users).` : ""),
		);
	}
	if (held) {
		const seconds = held.stats.durationMs / 1_000;
		const actionsPerSecond = (held.stats.actions.send + held.stats.actions.switch + held.stats.actions.react) / seconds;
		paragraphs.push(
			`What the machine served at the last healthy step, whatever the pace of each user: ${actionsPerSecond.toFixed(0)} user actions/s ` +
				`(${(held.stats.operations / seconds).toFixed(0)} requests and socket calls/s). The users held scale with the mean interval between ` +
				`a user's actions (here ${(run.settings.meanIntervalMs / 1_000).toFixed(1)} s): users who act twice as often are held half as many.`,
		);
	}
	for (const row of run.rows.filter((r) => r.stats.errorKinds.length > 0 || r.stats.lostReceptions > 0 || r.connectFailures > 0)) {
		const kinds = row.stats.errorKinds.slice(0, 5).map((e) => `${count(e.count)} × \`${e.kind.replace(/`/g, "'")}\``);
		if (row.connectFailures > 0) kinds.push(`${count(row.connectFailures)} sockets not connected (last: \`${row.connectLastError ?? ""}\`)`);
		if (row.stats.lostReceptions > 0) kinds.push(`${count(row.stats.lostReceptions)} of ${count(row.stats.expectedReceptions)} pushes of acknowledged messages not received within 10 s`);
		paragraphs.push(`**What failed in ${row.label}:** ${kinds.join("; ")}.`);
	}
	if (run.disconnects > 0) paragraphs.push(`The server disconnected ${count(run.disconnects)} sockets during the run.`);
	if (client) {
		paragraphs.push(
			`The bench client used ${Math.round(client.percent)}% of a core in that step and its event loop's p99 delay was ${ms(last.stats.clientLoopDelayP99Ms)} ms: ` +
				(client.percent >= 85
					? "it was itself near saturation and adds to the latencies measured, and its CPU is taken from the servers on the same cores."
					: last.stats.clientLoopDelayP99Ms > 50
						? "it was not saturated, but its event loop waited for the busy cores like every process and adds up to that delay to the latencies measured; its CPU is taken from the servers on the same cores."
						: "it was not the bottleneck, though its CPU is taken from the servers on the same cores."),
		);
	}
	return paragraphs;
}

function describeRun(run: LoadRun): string {
	const s = run.settings;
	const perMessage = `${ACTION_WEIGHTS.switch} channel switches and ${ACTION_WEIGHTS.react} reactions per message sent`;
	return (
		`${count(run.poolUsers)} users registered and signed in over REST before the ramp (${run.signUpSeconds.toFixed(0)} s), in ${count(run.channels)} public channels ` +
		`of ${s.channelSize} members (each user in ${s.channelsPerUser}). Each simulated user holds one socket and acts every ${(s.meanIntervalMs / 1_000).toFixed(1)} s on average ` +
		`(exponentially distributed), ${perMessage}. A light-load baseline of ${count(s.baselineUsers)} users first, then +${count(s.stepUsers)} users per step up to ` +
		`${count(s.maxUsers)}; each step connects its new sockets, settles ${(s.settleMs / 1_000).toFixed(0)} s and measures ${(s.windowMs / 1_000).toFixed(0)} s. ` +
		`The ramp ended because ${run.stopReason}.`
	);
}

/** The nodes' own warnings and errors, when something failed: the gateway answers a failure with a generic 500. */
function nodeLogSection(run: LoadRun): string[] {
	const blocks = run.nodeLogs.flatMap(({ node, tail }) => {
		const lines = [...new Set(tail.split("\n").filter((line) => /error|warn|fail/i.test(line)).map((line) => line.slice(0, 300)))].slice(-8);
		return lines.length === 0 ? [] : [`${node} node:`, "", "```", ...lines, "```", ""];
	});
	return blocks.length === 0 ? [] : ["## What the nodes logged (their last warnings and errors)", "", ...blocks];
}

export function loadMarkdown(run: LoadRun, when: Date): string {
	const stamp = when.toISOString().slice(0, 16).replace("T", " ");
	return [
		"# Load benchmark: simulated users until the platform is unhealthy",
		"",
		`Written by \`npm run bench:load\` (bench/load.ts) on ${stamp} UTC.`,
		"",
		`**Machine:** ${machineLine(run.machine)}; the bench client, the four Colony nodes, NATS, Redis and MariaDB all on it.`,
		"",
		`**Code:** ${run.code}.`,
		"",
		describeRun(run),
		"",
		`**Most concurrent users held: ${count(usersHeld(run.rows))}** (external reference: Mattermost's published ceiling on a 2-vCPU node, ${MATTERMOST_2_VCPU_USERS}).`,
		"",
		stepTable(run.rows),
		"",
		"Latency by kind of request (n = answered in the window):",
		"",
		operationTable(run.rows),
		"",
		"## Peak memory per node",
		"",
		memoryTable(run.peaks),
		"",
		"## Targets",
		"",
		...verdictLines(run),
		"",
		"## What limits the result",
		"",
		limitsParagraphs(run).join("\n\n"),
		"",
		...nodeLogSection(run),
		"## How it is measured",
		"",
		"- **Cluster**: one process per service from `dist/server.js` — `SERVICES=api`, `users`, `chat`, `notifications`, each with its own `HEALTH_PORT` — joined by NATS, " +
			"sharing Redis under a namespace of their own, each service but api on a MariaDB database made for the run (`<SERVICE>_DB_URI`); `LOG_LEVEL=warn`; the rate limits " +
			"lifted to 100,000,000 per minute (the limiters still count every request and socket call). Databases, Redis keys and processes are removed after the run.",
		"- **Users**: registered and signed in through `POST /api/v1/auth/register` and `/login` (argon2, so before the ramp); channels made through `POST /api/v1/channels` " +
			"and `/join`. A user's members are spread over the whole pool, so every step adds members online to every channel.",
		"- **Simulated user**: one socket.io-client socket (`transports: [\"websocket\"]`, `auth: { token }`) and REST calls with its bearer token. Each action is picked " +
			`at random with weights send ${ACTION_WEIGHTS.send}, channel switch ${ACTION_WEIGHTS.switch}, reaction ${ACTION_WEIGHTS.react}, at exponentially distributed ` +
			"intervals (an open loop: a user does not wait for an answer before its next action, so a slow server shows as latency, not as less load). " +
			"*Send*: socket `call` of `chat.send` `{ channelId, text, clientMsgId }` in the current channel, done at its acknowledgement. " +
			"*Channel switch*, as the web app opens a channel: `GET /api/v1/channels/:id/messages?limit=50` in another of the user's channels, then " +
			"`POST /api/v1/channels/:id/read` up to its newest message when that is newer than the user's last read there. " +
			"*Reaction*: `POST /api/v1/messages/:id/reactions` (a toggle) on one of the 20 latest messages of the channel.",
		"- **Per step**: latency of every request and socket call answered in the window (its send to its answer, in the bench's monotonic clock), average, p50, p99 and max; " +
			"*actions/s* counts user actions, *requests/s* the requests and socket calls they made (a switch makes one or two). *Failures*: answers of 500 or above (5xx), " +
			"of 400–499 (none is expected), no answer within 10 s (timeouts), network errors and sockets the server dropped, and sockets of the step that could not connect. " +
			"*Pushes/s*: every event the sockets received (`chat.message`, `presence`, …); *lost*: receptions of the window's messages a member online did not get within 10 s. " +
			`A step is healthy when the average is at most ${HEALTH.avgMs} ms, the p99 at most ${HEALTH.p99Ms / 1_000} s and failures (and lost pushes) at most ${pct(HEALTH.failureFraction)}; ` +
			"an unhealthy window is measured once more with the same users (*again*), and the step is unhealthy when that window is too — a step's users log in within seconds, " +
			"far faster than people do, and the second window tells lasting overload from that burst. The ramp stops at the first unhealthy step, and the most users held is the " +
			"last healthy step's. *vs baseline* divides a step's average and p99 by the baseline's. A window with more than 25% of a core of other load is measured again, up to three times, keeping the quietest.",
		"- **CPU**: from /proc at the start and end of each window, for the bench client, each node, NATS, Redis and MariaDB (found by process name); *other* is the machine's busy time not charged to them. " +
			"**RSS**: VmRSS at the end of each window; **peak memory**: VmHWM of each node at the end of the run, against the memory budgets of DESIGN §1.",
		"- Settings come from the environment; see *Benchmarks* in README.md.",
	].join("\n");
}

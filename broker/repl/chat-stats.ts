import type { ServiceBroker } from "moleculer";
import type { ChatStats } from "../../types/chat";
import type { PresenceStatus } from "../../types/contract";
import { nodesRunning, reasonOf, type ColonyCommand } from "./command";
import { textTable } from "./text-table";

/** The gauge moleculer-io keeps on each gateway of the sockets connected to it (signed in: the others are refused). */
const SOCKETS_METRIC = "moleculer.io.socket.active";
const ASK_TIMEOUT_MS = 5_000;
/** As many ids as `api.presenceOf` takes at once. */
const IDS_PER_PAGE = 1_000;

interface MetricSnapshot {
	name: string;
	values: { value: number }[];
}

/** Sockets connected to each gateway; a gateway that cannot say (metrics off, no answer) is named with its reason. */
async function socketsPerGateway(broker: ServiceBroker, gateways: string[]): Promise<string> {
	const counts = await Promise.all(
		gateways.map(async (nodeID): Promise<{ nodeID: string; sockets?: number; problem?: string }> => {
			try {
				const metrics = await broker.call<MetricSnapshot[], { includes: string }>("$node.metrics", { includes: SOCKETS_METRIC }, { nodeID, timeout: ASK_TIMEOUT_MS });
				const sockets = metrics.filter((metric) => metric.name === SOCKETS_METRIC).flatMap((metric) => metric.values).reduce((sum, item) => sum + item.value, 0);
				return { nodeID, sockets };
			} catch (err) {
				return { nodeID, problem: reasonOf(err) };
			}
		}),
	);
	const known = counts.filter((count) => count.sockets !== undefined);
	const total = known.reduce((sum, count) => sum + (count.sockets ?? 0), 0);
	const each = counts.map((count) => (count.sockets !== undefined ? `${count.nodeID} ${count.sockets}` : `${count.nodeID} unknown: ${count.problem}`));
	return `${known.length < counts.length ? "at least " : ""}${total} (${each.join(", ")})`;
}

/**
 * People connected now (online or away), over every account. Each gateway is asked: without Redis each knows only
 * its own connections, with Redis they agree; a person counts when any gateway has them.
 */
async function onlineUsers(broker: ServiceBroker, gateways: string[]): Promise<string> {
	const connected = new Set<number>();
	const away = new Set<number>();
	let unknownSomewhere = false;
	let after = 0;
	for (;;) {
		const { ids } = await broker.call<{ ids: number[] }, { after: number; limit: number }>("users.accountIds", { after, limit: IDS_PER_PAGE });
		if (ids.length === 0) break;
		const answers = await Promise.all(
			gateways.map((nodeID) => broker.call<Record<number, PresenceStatus>, { ids: number[] }>("api.presenceOf", { ids }, { nodeID, timeout: ASK_TIMEOUT_MS })),
		);
		for (const statuses of answers) {
			for (const id of ids) {
				const status = statuses[id];
				if (status === "online" || status === "away") connected.add(id);
				if (status === "away") away.add(id);
				if (status === "unknown") unknownSomewhere = true;
			}
		}
		after = ids[ids.length - 1];
	}
	const caveat = unknownSomewhere ? ", presence unknown on some gateway (Redis unreachable?)" : "";
	return `${connected.size} (${away.size} away${caveat})`;
}

function channelsLine(stats: ChatStats): string {
	const { total, public: open, private: closed, direct } = stats.channels;
	return `${total} (${open} public, ${closed} private, ${direct} direct)`;
}

export const chatStatsCommand: ColonyCommand = {
	command: "chat-stats",
	description: "Channels, messages (last hour, last day), members, connected sockets and online users",
	async run(broker: ServiceBroker): Promise<string> {
		const stats = await broker.call<ChatStats, object>("chat.stats", {}, { timeout: ASK_TIMEOUT_MS });
		const gateways = nodesRunning(broker, "api.presenceOf");
		const rows: [string, string][] = [
			["channels", channelsLine(stats)],
			["messages", String(stats.messages.total)],
			["messages in the last hour", String(stats.messages.lastHour)],
			["messages in the last day", String(stats.messages.lastDay)],
			["channel memberships", String(stats.members.memberships)],
			["people in channels", String(stats.members.people)],
		];
		if (gateways.length === 0) {
			rows.push(["connected sockets", "none: no gateway is running"], ["online users", "none: no gateway is running"]);
		} else {
			rows.push(["connected sockets", await socketsPerGateway(broker, gateways)]);
			rows.push(["online users", await onlineUsers(broker, gateways).catch((err: unknown) => `unknown: ${reasonOf(err)}`)]);
		}
		return textTable(["what", "count"], rows);
	},
};

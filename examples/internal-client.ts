/**
 * An internal client: a Moleculer node without services that joins a Colony cluster over NATS with the project's
 * broker options, waits for the services it needs, calls a few internal actions and prints what they answered.
 *
 *   npm run build
 *   TRANSPORTER=nats://127.0.0.1:4222 NAMESPACE=colony node dist/examples/internal-client.js
 *
 * Every node on NATS is trusted (README, Security): internal actions such as these have no caller to check.
 */
import { ServiceBroker } from "moleculer";
import { hostname } from "node:os";
import { createBrokerOptions } from "../moleculer.config";
import type { AiHostStatus } from "../types/ai";
import type { ChatStats } from "../types/chat";
import type { AssistantAccount } from "../types/users";

const WAIT_FOR_SERVICES_MS = Number(process.env.WAIT_FOR_SERVICES_MS ?? 30_000);

async function main(): Promise<void> {
	if (!process.env.TRANSPORTER) throw new Error("set TRANSPORTER to the cluster's NATS, e.g. nats://127.0.0.1:4222");
	const broker = new ServiceBroker(
		createBrokerOptions({ LOG_LEVEL: "warn", ...process.env, NODE_ID: process.env.NODE_ID || `client-${hostname()}-${process.pid}` }),
	);
	await broker.start();
	try {
		await broker.waitForServices(["users", "chat"], WAIT_FOR_SERVICES_MS);

		const assistant = await broker.call<AssistantAccount>("users.assistant");
		console.log(`assistant: @${assistant.username} (user ${assistant.id})`);

		const { ids } = await broker.call<{ ids: number[] }, { limit: number }>("users.accountIds", { limit: 1_000 });
		console.log(`accounts: ${ids.length}${ids.length === 1_000 ? " or more" : ""}`);

		const stats = await broker.call<ChatStats>("chat.stats");
		console.log(`chat: ${stats.channels.total} channels, ${stats.messages.total} messages (${stats.messages.lastHour} in the last hour), ${stats.members.people} people in channels`);

		// The ai service is optional: a cluster without GPU hosts has none.
		const aiNodes = broker.registry.getActionEndpoints("ai.status")?.endpoints.map((endpoint) => endpoint.id) ?? [];
		if (aiNodes.length === 0) console.log("ai: no AI hosts");
		for (const nodeID of aiNodes) {
			const status = await broker.call<AiHostStatus, object>("ai.status", {}, { nodeID });
			console.log(`ai: ${nodeID} ${status.healthy ? "healthy" : `unhealthy (${status.problem})`}, ${status.inFlight}/${status.parallel} in flight`);
		}
	} finally {
		await broker.stop();
	}
}

main().then(
	() => process.exit(0),
	(err: Error) => {
		console.error(`internal client failed: ${err.message}`);
		process.exit(1);
	},
);

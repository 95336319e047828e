import { ServiceBroker } from "moleculer";
import { hostname } from "node:os";
import { createBrokerOptions } from "./moleculer.config";
import { SERVICE_SCHEMAS } from "./server";

/**
 * An operator's node (`npm run repl`): it joins the cluster over TRANSPORTER with no services of its own and opens
 * the Moleculer REPL with Colony's commands (broker/repl). Without a transporter there is no cluster to join, so
 * it runs every service itself, as `npm start` would. (`node dist/server.js --repl` runs the node's SERVICES and
 * the same REPL.)
 */
async function main(): Promise<void> {
	const joining = Boolean(process.env.TRANSPORTER);
	const broker = new ServiceBroker(
		createBrokerOptions(
			joining
				? {
						// The console is the prompt's: a node without services logs little an operator needs there.
						LOG_LEVEL: "warn",
						...process.env,
						// Run in another node's container, NODE_ID is that node's: two nodes of one id would break both.
						NODE_ID: `repl-${process.env.NODE_ID || hostname()}-${process.pid}`,
					}
				: process.env,
		),
	);
	if (!joining) for (const schema of Object.values(SERVICE_SCHEMAS)) broker.createService(schema);
	await broker.start();
	const what = joining ? `joined namespace '${broker.namespace}' with no services` : "runs every service (no TRANSPORTER: there is no cluster to join)";
	console.log(`${broker.nodeID} ${what}. Type 'help' for the commands.`);
	broker.repl();
}

if (require.main === module) {
	main().catch((err: Error) => {
		console.error(`The REPL node failed to start: ${err.message}`);
		process.exit(1);
	});
}

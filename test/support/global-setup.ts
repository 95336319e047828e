import { unreachableServers } from "./servers";

export default async function globalSetup(): Promise<void> {
	const missing = await unreachableServers();
	if (missing.length === 0) return;
	const reason = `cannot reach ${missing.join(", ")}`;
	if (process.env.CI) {
		throw new Error(`Integration suites need the real servers and CI is set, so this run fails: ${reason}`);
	}
	process.env.COLONY_INTEGRATION_SKIPPED = reason;
	console.warn(`\n!!! SKIPPING the integration suites (test/integration): ${reason}. Start MariaDB, Redis and NATS to run them.\n`);
}

import { healthPortOf } from "./broker/node-startup";
import { listFromEnv } from "./lib/config";

const TIMEOUT_MS = 2_000;

/**
 * The container's health check (docker/Dockerfile): exits 0 when this node's /health/live answers, 1 otherwise. It
 * asks the port the node listens on, derived from SERVICES as the node derives it.
 */
async function main(): Promise<number> {
	try {
		const port = healthPortOf(listFromEnv(process.env.SERVICES));
		const answer = await fetch(`http://127.0.0.1:${port}/health/live`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
		return answer.ok ? 0 : 1;
	} catch {
		// Unreachable, too slow, or a PORT/HEALTH_PORT the node could not have started with either.
		return 1;
	}
}

if (require.main === module) {
	void main().then((code) => process.exit(code));
}

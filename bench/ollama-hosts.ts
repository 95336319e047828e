import { OllamaTestServer } from "../test/support/ollama-server";

/**
 * The GPU hosts of bench/ai.ts in a process of their own, as real Ollamas are never in the ai node's process:
 * HOSTS test Ollamas taking LATENCY_MS per request with SLOTS slots each and no queue. It prints their URLs, and
 * on SIGUSR2 a numbered line with what each has answered since the line before.
 */
interface HostStats {
	/** Chat requests answered 200, and those answered otherwise (503 when more came at once than its slots). */
	served: number;
	refused: number;
	maxConcurrent: number;
}

const count = Number(process.env.HOSTS ?? 1);
const latencyMs = Number(process.env.LATENCY_MS ?? 0);
const slots = Number(process.env.SLOTS ?? 1);
const model = process.env.MODEL ?? "llama3.2";

async function main(): Promise<void> {
	const hosts = await Promise.all(
		Array.from({ length: count }, () => OllamaTestServer.start({ latencyMs, tokenIntervalMs: 0, loadLatencyMs: 0, parallel: slots, queueLimit: 0, loaded: [model] })),
	);
	let report = 0;
	process.on("SIGUSR2", () => {
		const stats: HostStats[] = hosts.map((host) => {
			const chats = host.requests({ path: "/api/chat" }).filter((request) => request.status !== undefined);
			const served = chats.filter((request) => request.status === 200).length;
			return { served, refused: chats.length - served, maxConcurrent: host.maxConcurrent };
		});
		// Only counts are kept: the request log would grow with every request of a long run.
		for (const host of hosts) host.log.splice(0, host.log.length, ...host.log.filter((request) => request.status === undefined));
		console.log(`stats ${++report} ${JSON.stringify(stats)}`);
	});
	for (const signal of ["SIGTERM", "SIGINT"] as const) {
		process.once(signal, () => {
			void Promise.all(hosts.map((host) => host.stop())).then(() => process.exit(0));
			setTimeout(() => process.exit(0), 2_000).unref();
		});
	}
	// bench/ai.ts reads the URLs from this line.
	console.log(`ollama hosts listening: ${hosts.map((host) => host.url).join(" ")}`);
}

main().catch((err: Error) => {
	console.error(`ollama hosts failed to start: ${err.message}`);
	process.exit(1);
});

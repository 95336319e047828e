import type { ServiceBroker } from "moleculer";
import type { AiHostStatus } from "../../types/ai";
import { nodesRunning, reasonOf, type ColonyCommand } from "./command";
import { textTable } from "./text-table";

const HEADERS = ["node", "healthy", "loaded models", "GPU memory used/total", "in flight/slots", "queued"];
const ASK_TIMEOUT_MS = 5_000;

const GIB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GIB).toFixed(1)} GiB`;

function healthOf(status: AiHostStatus): string {
	if (status.checkedAt === 0) return "not checked yet";
	return status.healthy ? "yes" : `no: ${status.problem ?? "no reason given"}`;
}

function gpuMemoryOf(status: AiHostStatus): string {
	// Without nvidia-smi on the host only what Ollama says its loaded models take is known.
	if (!status.gpus?.length) return "unknown (no nvidia-smi)";
	const usedMb = status.gpus.reduce((sum, gpu) => sum + gpu.memoryUsedMb, 0);
	const totalMb = status.gpus.reduce((sum, gpu) => sum + gpu.memoryTotalMb, 0);
	return `${gib(usedMb * 1024 ** 2)} / ${gib(totalMb * 1024 ** 2)}`;
}

function hostRow(status: AiHostStatus): string[] {
	const loaded = status.loaded.map((model) => `${model.name} (${gib(model.sizeVram)})`).join(", ");
	return [status.nodeID, healthOf(status), loaded || "none", gpuMemoryOf(status), `${status.inFlight}/${status.parallel}`, String(status.queued)];
}

/**
 * Asks every `ai` node for its host's status now (`ai.status`) rather than waiting for heartbeats: the REPL's
 * node has just joined and has heard none yet. A node that does not answer gets a row saying why.
 */
export const aiHostsCommand: ColonyCommand = {
	command: "ai-hosts",
	description: "Every AI host: health, loaded models, GPU memory, requests in flight and queued",
	async run(broker: ServiceBroker): Promise<string> {
		const nodes = nodesRunning(broker, "ai.status");
		if (nodes.length === 0) return "No AI hosts: no node of the cluster runs the ai service.";
		const rows = await Promise.all(
			nodes.map(async (nodeID) => {
				try {
					return hostRow(await broker.call<AiHostStatus, object>("ai.status", {}, { nodeID, timeout: ASK_TIMEOUT_MS, retries: 0 }));
				} catch (err) {
					return [nodeID, `no answer: ${reasonOf(err)}`, "", "", "", ""];
				}
			}),
		);
		return textTable(HEADERS, rows);
	},
};

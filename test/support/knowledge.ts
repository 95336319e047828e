import type { ServiceSchema } from "moleculer";
import { setTimeout as delay } from "node:timers/promises";
import KnowledgeService, { type KnowledgeSettings } from "../../services/knowledge/knowledge.service";

/** The knowledge service on an in-memory database, without Redis, batching chat messages briefly. */
export function knowledgeService(settings: Partial<KnowledgeSettings> = {}): ServiceSchema {
	return {
		...(KnowledgeService as unknown as ServiceSchema),
		settings: { ...KnowledgeService.settings, databaseUri: "sqlite::memory:", redisUrl: undefined, chatBatchDelayMs: 5, ...settings },
	};
}

/** Polls `check` until it passes (for work done on events), failing with its last error after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 3_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		try {
			return await check();
		} catch (err) {
			if (Date.now() > deadline) throw err;
			await delay(20);
		}
	}
}

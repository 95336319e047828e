import { createHash } from "node:crypto";
import { withTag } from "../../lib/ai/host-board";
import type { RedisConnection } from "../../lib/state/redis";

const MEMORY_LIMIT = 20_000;

/** Content address of a text for one model: its embedding never changes. */
export function embeddingKey(model: string, text: string): string {
	return `${withTag(model)}:${createHash("sha256").update(text).digest("hex")}`;
}

/**
 * Embeddings by model and text, kept for good: in Redis (shared by every node, stored as Float32) when there is
 * one, otherwise in this process's memory, bounded. A Redis that fails only costs a recomputation.
 */
export class EmbeddingCache {
	private readonly memory = new Map<string, number[]>();

	constructor(
		private readonly redis: RedisConnection | undefined,
		private readonly prefix: string,
	) {}

	/** The known embedding of each text, undefined where there is none. */
	async get(model: string, texts: string[]): Promise<(number[] | undefined)[]> {
		const keys = texts.map((text) => embeddingKey(model, text));
		if (this.redis?.usable) {
			try {
				const stored = await this.redis.run((client) => client.mgetBuffer(...keys.map((key) => this.redisKey(key))));
				return stored.map((buffer) => (buffer ? [...new Float32Array(buffer.buffer, buffer.byteOffset, buffer.byteLength / 4)] : undefined));
			} catch {
				// Counted by the connection's failure report; the embeddings are computed again.
			}
		}
		return keys.map((key) => this.memory.get(key));
	}

	async set(model: string, texts: string[], embeddings: number[][]): Promise<void> {
		const keys = texts.map((text) => embeddingKey(model, text));
		if (this.redis?.usable) {
			try {
				await this.redis.run(async (client) => {
					const pipeline = client.pipeline();
					keys.forEach((key, i) => pipeline.set(this.redisKey(key), Buffer.from(new Float32Array(embeddings[i]).buffer)));
					await pipeline.exec();
				});
				return;
			} catch {
				// Kept in memory instead.
			}
		}
		keys.forEach((key, i) => {
			if (this.memory.size >= MEMORY_LIMIT) this.memory.delete(this.memory.keys().next().value!);
			this.memory.set(key, embeddings[i]);
		});
	}

	private redisKey(key: string): string {
		return `${this.prefix}ai:embedding:${key}`;
	}
}

import { createHash } from "node:crypto";
import type { RedisConnection } from "../../lib/state/redis";
import { toFloat32Blob } from "../../lib/vector/float32-blob";
import type { IndexedChunk, RankedChunk } from "./chunk-index";

/** The TAG value of chunks of no channel (documents everyone with `knowledge:read` may read). */
const NO_CHANNEL = "none";

/**
 * Chunk vectors kept in Redis (`<prefix>vector:<model>:<chunk id>` hashes, the model as a short hash), and, when the
 * server has the search module (Redis Stack, Redis 8), searched there with `FT.SEARCH … KNN`: one vector index per
 * model and dimension, the reader's channels a TAG filter applied before the ranking.
 */
export class RedisVectors {
	private readonly indexes = new Set<string>();

	constructor(
		private readonly redis: RedisConnection,
		/** `colony:<namespace>:knowledge:` */
		private readonly prefix: string,
	) {}

	/** Whether the server can search vectors itself (`MODULE LIST` names the search module). */
	async hasSearchModule(): Promise<boolean> {
		const modules = (await this.redis.run((client) => client.call("MODULE", "LIST"))) as unknown[];
		return modules.some((module) => {
			const fields = Array.isArray(module) ? module.map(String) : [];
			const name = fields[fields.indexOf("name") + 1]?.toLowerCase();
			return name === "search" || name === "searchlight" || name === "ft";
		});
	}

	async write(chunks: IndexedChunk[], withSearchIndex: boolean): Promise<void> {
		if (chunks.length === 0) return;
		if (withSearchIndex) {
			for (const chunk of chunks) await this.ensureIndex(chunk.model, chunk.vector.length);
		}
		await this.redis.run((client) => {
			const pipeline = client.pipeline();
			for (const chunk of chunks) {
				pipeline.hset(this.key(chunk.model, chunk.id), {
					channel: chunk.channelId === null ? NO_CHANNEL : String(chunk.channelId),
					vector: toFloat32Blob(chunk.vector),
				});
			}
			return pipeline.exec();
		});
	}

	async remove(chunks: { id: number; model: string }[]): Promise<void> {
		if (chunks.length === 0) return;
		await this.redis.run((client) => client.del(...chunks.map((chunk) => this.key(chunk.model, chunk.id))));
	}

	async search(model: string, query: ArrayLike<number>, k: number, readableChannels: ReadonlySet<number>): Promise<RankedChunk[]> {
		const index = this.indexName(model, query.length);
		if (!this.indexes.has(index)) return [];
		const channels = [NO_CHANNEL, ...readableChannels].join("|");
		const reply = (await this.redis.run((client) =>
			client.call(
				"FT.SEARCH", index, `(@channel:{${channels}})=>[KNN ${k} @vector $query AS distance]`,
				"PARAMS", "2", "query", toFloat32Blob(query),
				"SORTBY", "distance", "RETURN", "1", "distance", "LIMIT", "0", String(k), "DIALECT", "2",
			),
		)) as unknown[];
		return rankedFrom(reply);
	}

	private async ensureIndex(model: string, dimension: number): Promise<void> {
		const index = this.indexName(model, dimension);
		if (this.indexes.has(index)) return;
		await this.redis
			.run((client) =>
				client.call(
					"FT.CREATE", index, "ON", "HASH", "PREFIX", "1", `${this.prefix}vector:${modelKey(model)}:`,
					"SCHEMA", "channel", "TAG", "vector", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", String(dimension), "DISTANCE_METRIC", "COSINE",
				),
			)
			.catch((err: Error) => {
				if (!/already exists/i.test(err.message)) throw err;
			});
		this.indexes.add(index);
	}

	private key(model: string, id: number): string {
		return `${this.prefix}vector:${modelKey(model)}:${id}`;
	}

	private indexName(model: string, dimension: number): string {
		return `${this.prefix}index:${modelKey(model)}:${dimension}`;
	}
}

function modelKey(model: string): string {
	return createHash("sha256").update(model).digest("hex").slice(0, 16);
}

/** `[total, key, [field, value, …], key, …]`: the chunk id ends the key; RediSearch's cosine distance is 1 - similarity. */
function rankedFrom(reply: unknown[]): RankedChunk[] {
	const ranked: RankedChunk[] = [];
	for (let i = 1; i + 1 < reply.length; i += 2) {
		const id = Number(String(reply[i]).split(":").pop());
		const fields = (reply[i + 1] as unknown[]).map(String);
		const distance = Number(fields[fields.indexOf("distance") + 1]);
		if (Number.isInteger(id) && Number.isFinite(distance)) ranked.push({ id, score: 1 - distance });
	}
	return ranked;
}

import { AdaptiveIndex, type AdaptiveIndexOptions } from "../../lib/vector/adaptive-index";

/** What the search needs of a chunk: its vector, the model that made it, and who may read it. */
export interface IndexedChunk {
	id: number;
	model: string;
	/** null: a document of no channel, readable by anyone with `knowledge:read`. */
	channelId: number | null;
	vector: ArrayLike<number>;
}

export interface RankedChunk {
	id: number;
	score: number;
}

/** Whether a chunk of `channelId` may be shown to a reader of `readableChannels`. */
export function isReadable(channelId: number | null, readableChannels: ReadonlySet<number>): boolean {
	return channelId === null || readableChannels.has(channelId);
}

/**
 * Every chunk's vector in process memory, one index per embedding model and dimension (vectors of two models are
 * not comparable). A search only ever ranks the chunks its reader may see: the filter runs inside the index.
 */
export class ChunkIndex {
	private readonly indexes = new Map<string, AdaptiveIndex>();
	private readonly chunks = new Map<number, { space: string; channelId: number | null }>();

	constructor(private readonly options: AdaptiveIndexOptions = {}) {}

	get size(): number {
		return this.chunks.size;
	}

	/** How each model's vectors are searched, for the logs. */
	describe(): string {
		return [...this.indexes].map(([space, index]) => `${space}: ${index.size} vectors, ${index.kind}`).join("; ") || "empty";
	}

	add(chunk: IndexedChunk): void {
		const space = spaceOf(chunk.model, chunk.vector.length);
		if (this.chunks.get(chunk.id)?.space !== space) this.remove(chunk.id);
		this.indexFor(space, chunk.vector.length).add(chunk.id, chunk.vector);
		this.chunks.set(chunk.id, { space, channelId: chunk.channelId });
	}

	remove(id: number): void {
		const known = this.chunks.get(id);
		if (!known) return;
		this.indexes.get(known.space)?.remove(id);
		this.chunks.delete(id);
	}

	/** The `k` chunks nearest to `query` among those the reader of `readableChannels` may see. */
	search(model: string, query: ArrayLike<number>, k: number, readableChannels: ReadonlySet<number>): RankedChunk[] {
		const index = this.indexes.get(spaceOf(model, query.length));
		if (!index) return [];
		return index.search(query, k, (id) => {
			const chunk = this.chunks.get(id);
			return chunk !== undefined && isReadable(chunk.channelId, readableChannels);
		});
	}

	private indexFor(space: string, dimension: number): AdaptiveIndex {
		let index = this.indexes.get(space);
		if (!index) this.indexes.set(space, (index = new AdaptiveIndex(dimension, this.options)));
		return index;
	}
}

/** A model truncated to fewer dimensions makes vectors of another space than its full ones. */
function spaceOf(model: string, dimension: number): string {
	return `${model}/${dimension}`;
}

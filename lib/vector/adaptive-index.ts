import { ExactIndex } from "./exact-index";
import { HnswIndex, type HnswOptions } from "./hnsw-index";
import type { Neighbour, VectorIndex } from "./vector-index";

export interface AdaptiveIndexOptions {
	/** Up to this many vectors the search is exact; past it the vectors move into an HNSW graph. */
	exactLimit?: number;
	hnsw?: HnswOptions;
}

export const DEFAULT_EXACT_LIMIT = 20_000;

/**
 * Exact while small, approximate once large: the vectors move into an HNSW graph the moment they outgrow
 * `exactLimit`, and stay there (a corpus that shrank again keeps its graph).
 */
export class AdaptiveIndex implements VectorIndex {
	private current: ExactIndex | HnswIndex;
	private readonly exactLimit: number;

	constructor(
		readonly dimension: number,
		private readonly options: AdaptiveIndexOptions = {},
	) {
		this.exactLimit = options.exactLimit ?? DEFAULT_EXACT_LIMIT;
		this.current = new ExactIndex(dimension);
	}

	get kind(): "exact" | "hnsw" {
		return this.current instanceof ExactIndex ? "exact" : "hnsw";
	}

	get size(): number {
		return this.current.size;
	}

	has(id: number): boolean {
		return this.current.has(id);
	}

	add(id: number, vector: ArrayLike<number>): void {
		this.current.add(id, vector);
		if (this.current instanceof ExactIndex && this.current.size > this.exactLimit) this.current = this.toHnsw(this.current);
	}

	remove(id: number): boolean {
		return this.current.remove(id);
	}

	search(query: ArrayLike<number>, k: number, accept?: (id: number) => boolean): Neighbour[] {
		return this.current.search(query, k, accept);
	}

	private toHnsw(exact: ExactIndex): HnswIndex {
		const graph = new HnswIndex(this.dimension, { initialCapacity: exact.size * 2, ...this.options.hnsw });
		for (const [id, vector] of exact.entries()) graph.add(id, vector);
		return graph;
	}
}

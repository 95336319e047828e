import { HierarchicalNSW } from "hnswlib-node";
import { assertDimension, unitVector, type Neighbour, type VectorIndex } from "./vector-index";

export interface HnswOptions {
	/** Links per node: more links, better recall, more memory (hnswlib's `M`). */
	m?: number;
	/** Candidates considered while inserting: more, a better graph, slower inserts. */
	efConstruction?: number;
	/** Candidates considered while searching (at least k): more, better recall, slower searches. */
	efSearch?: number;
	/** Room for this many vectors at first; the index doubles when full. */
	initialCapacity?: number;
	/** Makes the graph, and so the results, the same from run to run. */
	seed?: number;
}

const DEFAULTS: Required<HnswOptions> = { m: 16, efConstruction: 200, efSearch: 100, initialCapacity: 1_024, seed: 100 };

/**
 * Approximate search over a hierarchical navigable small-world graph (hnswlib). Removed vectors are marked deleted
 * and their slots reused by later additions; searches skip them.
 */
export class HnswIndex implements VectorIndex {
	private readonly graph: HierarchicalNSW;
	private readonly options: Required<HnswOptions>;
	private readonly live = new Set<number>();
	/** Slots of removed vectors that an addition may take over. */
	private deleted = 0;

	constructor(
		readonly dimension: number,
		options: HnswOptions = {},
	) {
		this.options = { ...DEFAULTS, ...options };
		this.graph = new HierarchicalNSW("cosine", dimension);
		this.graph.initIndex({
			maxElements: Math.max(1, this.options.initialCapacity),
			m: this.options.m,
			efConstruction: this.options.efConstruction,
			randomSeed: this.options.seed,
			allowReplaceDeleted: true,
		});
	}

	get size(): number {
		return this.live.size;
	}

	has(id: number): boolean {
		return this.live.has(id);
	}

	add(id: number, vector: ArrayLike<number>): void {
		assertDimension(this, vector);
		const isNew = !this.live.has(id);
		if (isNew && this.deleted === 0 && this.graph.getCurrentCount() >= this.graph.getMaxElements()) {
			this.graph.resizeIndex(this.graph.getMaxElements() * 2);
		}
		this.graph.addPoint(Array.from(unitVector(vector)), id, true);
		if (isNew) {
			if (this.deleted > 0) this.deleted--;
			this.live.add(id);
		}
	}

	remove(id: number): boolean {
		if (!this.live.delete(id)) return false;
		this.graph.markDelete(id);
		this.deleted++;
		return true;
	}

	search(query: ArrayLike<number>, k: number, accept?: (id: number) => boolean): Neighbour[] {
		assertDimension(this, query);
		const wanted = Math.min(k, this.live.size);
		if (wanted <= 0) return [];
		this.graph.setEf(Math.max(this.options.efSearch, wanted));
		const { neighbors, distances } = this.graph.searchKnn(Array.from(unitVector(query)), wanted, accept);
		// hnswlib's cosine distance is 1 - similarity.
		return neighbors.map((id, i) => ({ id, score: 1 - distances[i] }));
	}
}

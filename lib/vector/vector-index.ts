/** A nearest-neighbour index over unit vectors, ranked by cosine similarity. */
export interface VectorIndex {
	readonly dimension: number;
	/** Vectors held (removed ones excluded). */
	readonly size: number;
	has(id: number): boolean;
	/** Adds the vector under `id`, or replaces the one it had. */
	add(id: number, vector: ArrayLike<number>): void;
	/** False when `id` was not there. */
	remove(id: number): boolean;
	/** The `k` vectors most similar to `query` among those `accept` lets through, best first. */
	search(query: ArrayLike<number>, k: number, accept?: (id: number) => boolean): Neighbour[];
}

export interface Neighbour {
	id: number;
	/** Cosine similarity, 1 for the same direction. */
	score: number;
}

/** The vector scaled to length 1 (a zero vector stays zero: it is similar to nothing). */
export function unitVector(vector: ArrayLike<number>): Float32Array {
	let sum = 0;
	for (let i = 0; i < vector.length; i++) sum += vector[i] * vector[i];
	const norm = Math.sqrt(sum);
	const unit = new Float32Array(vector.length);
	if (norm === 0) return unit;
	for (let i = 0; i < vector.length; i++) unit[i] = vector[i] / norm;
	return unit;
}

export function assertDimension(index: VectorIndex, vector: ArrayLike<number>): void {
	if (vector.length !== index.dimension) {
		throw new RangeError(`Expected a vector of ${index.dimension} dimensions, got ${vector.length}`);
	}
}

import { assertDimension, unitVector, type Neighbour, type VectorIndex } from "./vector-index";

const INITIAL_ROWS = 256;

/**
 * Exact search: every vector is compared with the query. Vectors are kept in one contiguous matrix, so a scan of
 * 20,000 vectors of 768 dimensions takes a few milliseconds; beyond that an approximate index pays off.
 */
export class ExactIndex implements VectorIndex {
	private matrix: Float32Array;
	/** The id of each row, in row order. */
	private ids: number[] = [];
	private readonly rows = new Map<number, number>();

	constructor(readonly dimension: number) {
		this.matrix = new Float32Array(INITIAL_ROWS * dimension);
	}

	get size(): number {
		return this.ids.length;
	}

	has(id: number): boolean {
		return this.rows.has(id);
	}

	add(id: number, vector: ArrayLike<number>): void {
		assertDimension(this, vector);
		let row = this.rows.get(id);
		if (row === undefined) {
			row = this.ids.length;
			this.ensureRows(row + 1);
			this.ids.push(id);
			this.rows.set(id, row);
		}
		this.matrix.set(unitVector(vector), row * this.dimension);
	}

	remove(id: number): boolean {
		const row = this.rows.get(id);
		if (row === undefined) return false;
		// The last row takes the removed one's place, so the matrix stays without holes.
		const last = this.ids.length - 1;
		if (row !== last) {
			const lastId = this.ids[last];
			this.matrix.copyWithin(row * this.dimension, last * this.dimension, (last + 1) * this.dimension);
			this.ids[row] = lastId;
			this.rows.set(lastId, row);
		}
		this.ids.pop();
		this.rows.delete(id);
		return true;
	}

	search(query: ArrayLike<number>, k: number, accept?: (id: number) => boolean): Neighbour[] {
		assertDimension(this, query);
		const unit = unitVector(query);
		const best = new TopK(k);
		const dimension = this.dimension;
		for (let row = 0; row < this.ids.length; row++) {
			const id = this.ids[row];
			if (accept && !accept(id)) continue;
			const offset = row * dimension;
			let dot = 0;
			for (let i = 0; i < dimension; i++) dot += unit[i] * this.matrix[offset + i];
			best.offer(id, dot);
		}
		return best.sorted();
	}

	/** Every vector held, as stored (unit length). */
	*entries(): IterableIterator<[number, Float32Array]> {
		for (let row = 0; row < this.ids.length; row++) {
			yield [this.ids[row], this.matrix.subarray(row * this.dimension, (row + 1) * this.dimension)];
		}
	}

	private ensureRows(rows: number): void {
		if (rows * this.dimension <= this.matrix.length) return;
		const grown = new Float32Array(Math.max(rows, (this.matrix.length / this.dimension) * 2) * this.dimension);
		grown.set(this.matrix);
		this.matrix = grown;
	}
}

/** The k best scores offered so far, kept sorted best first (k is small: a search asks for a handful). */
class TopK {
	private readonly items: Neighbour[] = [];

	constructor(private readonly k: number) {}

	offer(id: number, score: number): void {
		if (this.k <= 0) return;
		if (this.items.length === this.k && score <= this.items[this.k - 1].score) return;
		let at = this.items.length;
		while (at > 0 && this.items[at - 1].score < score) at--;
		this.items.splice(at, 0, { id, score });
		if (this.items.length > this.k) this.items.pop();
	}

	sorted(): Neighbour[] {
		return this.items;
	}
}

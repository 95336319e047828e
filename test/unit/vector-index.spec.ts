import { AdaptiveIndex } from "../../lib/vector/adaptive-index";
import { ExactIndex } from "../../lib/vector/exact-index";
import { HnswIndex } from "../../lib/vector/hnsw-index";
import type { VectorIndex } from "../../lib/vector/vector-index";

/** mulberry32: the same "random" vectors on every run. */
function randomSource(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = Math.imul(state ^ (state >>> 15), state | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** Vectors around a few dozen topics, as embeddings of a real corpus cluster: the hard case for an approximate index. */
function clusteredVectors(count: number, dimension: number, seed: number): number[][] {
	const random = randomSource(seed);
	const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
	const topics = Array.from({ length: 40 }, () => Array.from({ length: dimension }, gaussian));
	return Array.from({ length: count }, () => {
		const topic = topics[Math.floor(random() * topics.length)];
		return topic.map((value) => value + 0.8 * gaussian());
	});
}

function fill(index: VectorIndex, vectors: number[][]): void {
	vectors.forEach((vector, i) => index.add(i + 1, vector));
}

function recallAt(k: number, exact: VectorIndex, approximate: VectorIndex, queries: number[][], accept?: (id: number) => boolean): number {
	let found = 0;
	for (const query of queries) {
		const truth = new Set(exact.search(query, k, accept).map((hit) => hit.id));
		found += approximate.search(query, k, accept).filter((hit) => truth.has(hit.id)).length;
	}
	return found / (queries.length * k);
}

describe("vector indexes", () => {
	describe("exact", () => {
		it("ranks by cosine, best first, whatever the vectors' lengths", () => {
			const index = new ExactIndex(3);
			index.add(1, [1, 0, 0]);
			index.add(2, [10, 10, 0]);
			index.add(3, [0, 0, 5]);
			const hits = index.search([2, 0.5, 0], 3);
			expect(hits.map((hit) => hit.id)).toEqual([1, 2, 3]);
			expect(hits[0].score).toBeCloseTo(2 / Math.sqrt(4.25), 5);
			expect(hits[2].score).toBeCloseTo(0, 5);
		});

		it("replaces, removes and filters", () => {
			const index = new ExactIndex(2);
			index.add(1, [1, 0]);
			index.add(2, [0, 1]);
			index.add(3, [1, 1]);
			index.add(1, [0, 1]);
			expect(index.remove(2)).toBe(true);
			expect(index.remove(2)).toBe(false);
			expect(index.size).toBe(2);
			expect(index.search([0, 1], 5).map((hit) => hit.id)).toEqual([1, 3]);
			expect(index.search([0, 1], 5, (id) => id !== 1).map((hit) => hit.id)).toEqual([3]);
			expect(() => index.add(4, [1, 2, 3])).toThrow(RangeError);
		});
	});

	describe("HNSW against exact", () => {
		const dimension = 64;
		const vectors = clusteredVectors(4_000, dimension, 7);
		const queries = clusteredVectors(200, dimension, 8);
		const exact = new ExactIndex(dimension);
		const hnsw = new HnswIndex(dimension, { initialCapacity: 500 });

		beforeAll(() => {
			fill(exact, vectors);
			fill(hnsw, vectors);
		});

		it("finds at least 95% of the true 10 nearest neighbours", () => {
			const recall = recallAt(10, exact, hnsw, queries);
			expect(recall).toBeGreaterThanOrEqual(0.95);
		});

		it("keeps its recall when only some vectors may be returned", () => {
			const readable = (id: number) => id % 3 === 0;
			expect(recallAt(10, exact, hnsw, queries, readable)).toBeGreaterThanOrEqual(0.95);
			for (const hit of hnsw.search(queries[0], 10, readable)) expect(readable(hit.id)).toBe(true);
		});

		it("never returns a removed vector, and reuses its slot", () => {
			const index = new HnswIndex(dimension, { initialCapacity: 100 });
			fill(index, vectors.slice(0, 300));
			for (let id = 1; id <= 150; id++) index.remove(id);
			vectors.slice(300, 450).forEach((vector, i) => index.add(1_000 + i, vector));
			expect(index.size).toBe(300);
			const hits = index.search(vectors[0], 50);
			expect(hits.every((hit) => hit.id > 150)).toBe(true);
			index.add(1, vectors[0]);
			expect(index.search(vectors[0], 1)[0]).toMatchObject({ id: 1 });
			expect(index.search(vectors[0], 1)[0].score).toBeCloseTo(1, 5);
		});
	});

	it("moves from exact to HNSW once it outgrows its limit, keeping every vector", () => {
		const vectors = clusteredVectors(300, 16, 9);
		const index = new AdaptiveIndex(16, { exactLimit: 200 });
		fill(index, vectors.slice(0, 200));
		expect(index.kind).toBe("exact");
		fill(index, vectors);
		expect(index.kind).toBe("hnsw");
		expect(index.size).toBe(300);
		expect(index.search(vectors[250], 1)[0].id).toBe(251);
	});
});

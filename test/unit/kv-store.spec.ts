import { createKeyValueStore, MemoryStore } from "../../lib/state/kv-store";
import { RateLimiter } from "../../lib/state/rate-limiter";

describe("MemoryStore", () => {
	let store: MemoryStore;

	beforeEach(() => {
		jest.useFakeTimers({ now: new Date("2030-01-01T00:00:00Z") });
		store = new MemoryStore();
	});
	afterEach(async () => {
		await store.close();
		jest.useRealTimers();
	});

	it("returns what was set until its time to live runs out, then nothing", async () => {
		await store.set("auth:blacklist:abc", "7", 1_000);

		jest.advanceTimersByTime(999);
		expect(await store.get("auth:blacklist:abc")).toBe("7");
		jest.advanceTimersByTime(1);
		expect(await store.get("auth:blacklist:abc")).toBeNull();
	});

	it("returns nothing for a key never set, or deleted", async () => {
		await store.set("gone", "1", 60_000);
		await store.delete("gone");

		expect(await store.get("gone")).toBeNull();
		expect(await store.get("never")).toBeNull();
	});

	it("replaces a value and its time to live when set again", async () => {
		await store.set("key", "first", 1_000);
		await store.set("key", "second", 5_000);

		jest.advanceTimersByTime(2_000);
		expect(await store.get("key")).toBe("second");
	});

	it("counts increments within one window that opens with the first one and does not slide", async () => {
		expect(await store.increment("hits", 60_000)).toEqual({ count: 1, ttlMs: 60_000 });
		jest.advanceTimersByTime(20_000);
		expect(await store.increment("hits", 60_000)).toEqual({ count: 2, ttlMs: 40_000 });
		jest.advanceTimersByTime(39_999);
		expect(await store.increment("hits", 60_000)).toEqual({ count: 3, ttlMs: 1 });
	});

	it("starts counting afresh once the window has passed", async () => {
		await store.increment("hits", 60_000);
		await store.increment("hits", 60_000);

		jest.advanceTimersByTime(60_000);

		expect(await store.increment("hits", 60_000)).toEqual({ count: 1, ttlMs: 60_000 });
	});

	it("counts each key on its own", async () => {
		await store.increment("a", 60_000);
		await store.increment("a", 60_000);

		expect((await store.increment("b", 60_000)).count).toBe(1);
	});

	it("is always ready, and empty once closed", async () => {
		await store.set("key", "value", 60_000);
		expect(store.isReady()).toBe(true);

		await store.close();

		expect(await store.get("key")).toBeNull();
	});
});

describe("createKeyValueStore", () => {
	it("keeps state in process memory when no Redis URL is configured", async () => {
		const store = createKeyValueStore(undefined);

		expect(store).toBeInstanceOf(MemoryStore);
		await store.close();
	});
});

describe("RateLimiter", () => {
	let store: MemoryStore;

	beforeEach(() => {
		jest.useFakeTimers({ now: new Date("2030-01-01T00:00:00Z") });
		store = new MemoryStore();
	});
	afterEach(async () => {
		await store.close();
		jest.useRealTimers();
	});

	it("allows the limit, then refuses with the seconds until the window resets", async () => {
		const limiter = new RateLimiter(store, 3, 60_000);

		const decisions = [];
		for (let i = 0; i < 4; i++) decisions.push(await limiter.consume("user:1"));

		expect(decisions.map((decision) => [decision.allowed, decision.remaining])).toEqual([
			[true, 2],
			[true, 1],
			[true, 0],
			[false, 0],
		]);
		expect(decisions[3]).toMatchObject({ limit: 3, resetSeconds: 60 });
	});

	it("rounds the wait up and never answers less than a second", async () => {
		const limiter = new RateLimiter(store, 1, 60_000);
		await limiter.consume("ip:1");

		jest.advanceTimersByTime(58_500);
		expect((await limiter.consume("ip:1")).resetSeconds).toBe(2);
		jest.advanceTimersByTime(1_499);
		expect((await limiter.consume("ip:1")).resetSeconds).toBe(1);
	});

	it("allows again once the window has passed", async () => {
		const limiter = new RateLimiter(store, 1, 60_000);
		await limiter.consume("user:1");
		expect((await limiter.consume("user:1")).allowed).toBe(false);

		jest.advanceTimersByTime(60_000);

		expect((await limiter.consume("user:1")).allowed).toBe(true);
	});

	it("keeps separate budgets per key", async () => {
		const limiter = new RateLimiter(store, 1, 60_000);
		await limiter.consume("user:1");

		expect((await limiter.consume("user:2")).allowed).toBe(true);
	});
});

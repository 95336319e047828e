import { RateLimiter, type SharedCounters } from "../../lib/state/rate-limiter";

/** Counters like Redis's, in memory, that record each command and can be made to fail. */
class FakeCounters implements SharedCounters {
	usable = true;
	failing = false;
	readonly commands: { key: string; by: number }[] = [];
	private readonly counts = new Map<string, number>();

	async add(key: string, by: number): Promise<{ count: number; ttlMs: number }> {
		this.commands.push({ key, by });
		if (this.failing) throw new Error("connection lost");
		const count = (this.counts.get(key) ?? 0) + by;
		this.counts.set(key, count);
		return { count, ttlMs: 30_000 };
	}
}

describe("the rate limiter", () => {
	const limiters: RateLimiter[] = [];
	const limiter = (...args: ConstructorParameters<typeof RateLimiter>) => {
		const created = new RateLimiter(...args);
		limiters.push(created);
		return created;
	};
	afterAll(() => limiters.forEach((created) => created.close()));

	it("counts a key down to its limit and refuses beyond it, saying when the window ends", async () => {
		const local = limiter(3, 60_000);

		const decisions = [];
		for (let i = 0; i < 4; i++) decisions.push(await local.consume("user:1"));

		expect(decisions.map((d) => [d.allowed, d.remaining])).toEqual([
			[true, 2],
			[true, 1],
			[true, 0],
			[false, 0],
		]);
		expect(decisions[3].resetSeconds).toBeGreaterThan(55);
		expect((await local.consume("user:2")).allowed).toBe(true);
	});

	it("adds the requests of one moment to the shared counter in one command, each with its own place", async () => {
		const shared = new FakeCounters();
		const limited = limiter(5, 60_000, shared);

		const decisions = await Promise.all(Array.from({ length: 7 }, () => limited.consume("user:1")));

		expect(shared.commands).toEqual([{ key: "user:1", by: 7 }]);
		expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, true, false, false]);
		expect(decisions[6].resetSeconds).toBe(30);
	});

	it("answers at once while a key is far below its budget, and waits for the shared count near it", async () => {
		const slow = new FakeCounters();
		let release: () => void = () => undefined;
		const gate = new Promise<void>((resolve) => (release = resolve));
		const add = slow.add.bind(slow);
		slow.add = async (key, by) => {
			await gate;
			return add(key, by);
		};
		const limited = limiter(10, 60_000, slow);
		const settled: boolean[] = [];

		const decisions = Array.from({ length: 8 }, (_, i) => limited.consume("user:1").then((d) => (settled[i] = d.allowed)));
		await new Promise((resolve) => setImmediate(resolve));

		expect(settled.filter((allowed) => allowed !== undefined)).toEqual([true, true, true, true, true]);
		release();
		await Promise.all(decisions);
		expect(settled).toEqual([true, true, true, true, true, true, true, true]);
		expect(slow.commands).toEqual([{ key: "user:1", by: 8 }]);
	});

	it("shares one budget between gateways through the shared counters", async () => {
		const shared = new FakeCounters();
		const gatewayA = limiter(4, 60_000, shared);
		const gatewayB = limiter(4, 60_000, shared);

		const allowed = [];
		for (let i = 0; i < 6; i++) {
			allowed.push((await (i % 2 ? gatewayB : gatewayA).consume("user:1")).allowed);
			// Requests a moment apart, as HTTP requests are: each gateway's count reaches the shared counter meanwhile.
			await new Promise((resolve) => setImmediate(resolve));
		}

		expect(allowed).toEqual([true, true, true, true, false, false]);
	});

	it("refuses a key known to be over its budget without asking the shared counters again", async () => {
		const shared = new FakeCounters();
		const limited = limiter(2, 60_000, shared);
		await Promise.all([limited.consume("flood"), limited.consume("flood"), limited.consume("flood")]);
		const commands = shared.commands.length;

		for (let i = 0; i < 100; i++) expect((await limited.consume("flood")).allowed).toBe(false);

		expect(shared.commands.length).toBe(commands);
	});

	it("counts on this node alone while the shared counters fail or cannot be reached, and says so once per failure", async () => {
		const shared = new FakeCounters();
		const failures: Error[] = [];
		const limited = limiter(3, 60_000, shared, (err) => failures.push(err));
		shared.failing = true;

		const whileFailing = await Promise.all([limited.consume("user:1"), limited.consume("user:1")]);
		shared.usable = false;
		const whileDown = [await limited.consume("user:1"), await limited.consume("user:1")];

		expect([...whileFailing, ...whileDown].map((d) => d.allowed)).toEqual([true, true, true, false]);
		expect(failures).toHaveLength(1);
	});
});

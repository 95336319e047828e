import { MemoryPresenceStore } from "../../lib/state/presence";

describe("presence leases (memory store)", () => {
	const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

	it("keeps a user online while any gateway holds a lease, away when they say so", async () => {
		const store = new MemoryPresenceStore();
		await store.hold(1, "gateway-a", 10_000);
		await store.hold(1, "gateway-b", 10_000);
		await store.release(1, "gateway-a");
		expect(await store.statusOf([1, 2])).toEqual({ 1: "online", 2: "offline" });
		await store.setAway(1, true, 10_000);
		expect((await store.statusOf([1]))[1]).toBe("away");
		await store.release(1, "gateway-b");
		expect((await store.statusOf([1]))[1]).toBe("offline");
	});

	it("hands a user whose leases ran out to one sweep only, and never a user who signed off", async () => {
		const store = new MemoryPresenceStore();
		await store.hold(1, "crashed-gateway", 20);
		await store.hold(2, "healthy-gateway", 10_000);
		await store.hold(3, "healthy-gateway", 20);
		await store.release(3, "healthy-gateway");
		await wait(40);
		expect(await store.sweepExpired()).toEqual([1]);
		expect(await store.sweepExpired()).toEqual([]);
		expect(await store.statusOf([1, 2])).toEqual({ 1: "offline", 2: "online" });
	});
});

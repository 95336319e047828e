import { delayedRouteService, startPlatform, type Platform } from "../support/platform";

/** One request at a time and one waiting: a third caller finds the queue full. */
const NarrowService = delayedRouteService("narrow", 300, { bulkhead: { enabled: true, concurrency: 1, maxQueueSize: 1 } });

describe("an overloaded service", () => {
	let platform: Platform;

	beforeAll(async () => {
		platform = await startPlatform({ services: [NarrowService] });
	});
	afterAll(() => platform.broker.stop());

	it("answers 503 SERVICE_BUSY with Retry-After, and does not name the node, when its queue stays full", async () => {
		// Moleculer retries a full queue a few times (up to 0.7 s); eight callers of a 300 ms action outlast that.
		const answers = await Promise.all(Array.from({ length: 8 }, () => platform.client.get("/api/v1/narrow")));
		const refused = answers.filter((answer) => answer.status !== 200);

		expect(answers.filter((answer) => answer.status === 200).length).toBeGreaterThan(0);
		expect(refused.length).toBeGreaterThan(0);
		for (const answer of refused) {
			expect(answer.status).toBe(503);
			expect(answer.body).toMatchObject({ type: "SERVICE_BUSY", message: "The server is busy: retry in a moment" });
			expect(answer.headers.get("retry-after")).toBe("1");
			expect(JSON.stringify(answer.body)).not.toContain(platform.broker.nodeID);
		}
	});
});

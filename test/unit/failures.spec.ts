import { ServiceBroker } from "moleculer";
import { FailureLog } from "../../broker/failures";

describe("failures answered by a fallback", () => {
	it("are each counted, and logged once per burst", async () => {
		const broker = new ServiceBroker({ logger: false, metrics: { enabled: true } });
		const warnings: string[] = [];
		const logger = { warn: (message: string) => warnings.push(message) } as unknown as ReturnType<ServiceBroker["getLogger"]>;
		const log = new FailureLog(broker, logger);

		for (let i = 0; i < 5; i++) log.report("redis cache", new Error("connection is closed"));
		log.report("presence lease", new Error("timeout"));

		expect(warnings).toEqual([
			expect.stringContaining("redis cache failed, fallback used: connection is closed"),
			expect.stringContaining("presence lease failed, fallback used: timeout"),
		]);
		const counted = broker.metrics.getMetric("colony.degraded.operations.total")?.snapshot() as unknown as { labels: { what: string }; value: number }[];
		expect(Object.fromEntries(counted.map((item) => [item.labels.what, item.value]))).toEqual({ "redis cache": 5, "presence lease": 1 });
		await broker.stop();
	});
});

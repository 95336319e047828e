import type { ServiceBroker } from "moleculer";

type Logger = ReturnType<ServiceBroker["getLogger"]>;

const METRIC = "colony.degraded.operations.total";
const QUIET_MS = 60_000;

interface Burst {
	since: number;
	suppressed: number;
}

/**
 * Failures the platform survives on a fallback (Redis down: local rate limits, cache misses, unknown presence; a
 * socket that vanished mid-push…). Each is counted in `colony_degraded_operations_total{what}`; the first of a
 * burst is logged, the rest of the minute only counted, so an outage does not flood the log.
 */
export class FailureLog {
	private readonly bursts = new Map<string, Burst>();

	constructor(
		private readonly broker: ServiceBroker,
		private readonly logger: Logger,
	) {
		if (broker.isMetricsEnabled() && !broker.metrics.getMetric(METRIC)) {
			broker.metrics.register({
				name: METRIC,
				type: "counter",
				labelNames: ["what"],
				description: "Operations that failed and were answered by a fallback",
			});
		}
	}

	report(what: string, err: unknown): void {
		if (this.broker.isMetricsEnabled()) this.broker.metrics.increment(METRIC, { what });
		const now = Date.now();
		const burst = this.bursts.get(what);
		if (burst && now - burst.since < QUIET_MS) {
			burst.suppressed += 1;
			return;
		}
		if (burst?.suppressed) this.logger.warn(`${what}: ${burst.suppressed} more failure(s) in the minute after the last one logged`);
		this.bursts.set(what, { since: now, suppressed: 0 });
		this.logger.warn(`${what} failed, fallback used: ${(err as Error)?.message ?? String(err)} (repeats within a minute are counted, not logged)`);
	}

	/** A function for one kind of failure, to hand to framework-free code (`lib/`). */
	reporter(what: string): (err: unknown) => void {
		return (err) => this.report(what, err);
	}
}

const logs = new WeakMap<ServiceBroker, FailureLog>();

/** The broker's failure log, shared by its services. */
export function failureLog(broker: ServiceBroker): FailureLog {
	let log = logs.get(broker);
	if (!log) logs.set(broker, (log = new FailureLog(broker, broker.getLogger("degraded"))));
	return log;
}

import type { ServiceBroker } from "moleculer";

type Logger = ReturnType<ServiceBroker["getLogger"]>;

const QUIET_MS = 60_000;

interface Burst {
	since: number;
	suppressed: number;
}

/**
 * Something that can happen very often and must be visible without flooding the log: each occurrence is counted in
 * a Prometheus counter labelled `what`, the first of a burst is logged, the rest of the minute only counted.
 */
export class BurstLog {
	private readonly bursts = new Map<string, Burst>();

	constructor(
		private readonly broker: ServiceBroker,
		private readonly logger: Logger,
		private readonly metric: string,
		description: string,
	) {
		if (broker.isMetricsEnabled() && !broker.metrics.getMetric(metric)) {
			broker.metrics.register({ name: metric, type: "counter", labelNames: ["what"], description });
		}
	}

	/** Counts one occurrence of `what`; logs `message` when it opens a burst. */
	note(what: string, message: string): void {
		if (this.broker.isMetricsEnabled()) this.broker.metrics.increment(this.metric, { what });
		const now = Date.now();
		const burst = this.bursts.get(what);
		if (burst && now - burst.since < QUIET_MS) {
			burst.suppressed += 1;
			return;
		}
		if (burst?.suppressed) this.logger.warn(`${what}: ${burst.suppressed} more in the minute after the last one logged`);
		this.bursts.set(what, { since: now, suppressed: 0 });
		this.logger.warn(`${message} (repeats within a minute are counted, not logged)`);
	}
}

/** Failures the platform survives on a fallback (Redis down: local rate limits, cache misses, unknown presence…). */
export class FailureLog extends BurstLog {
	constructor(broker: ServiceBroker, logger: Logger) {
		super(broker, logger, "colony.degraded.operations.total", "Operations that failed and were answered by a fallback");
	}

	report(what: string, err: unknown): void {
		this.note(what, `${what} failed, fallback used: ${(err as Error)?.message ?? String(err)}`);
	}

	/** A function for one kind of failure, to hand to framework-free code (`lib/`). */
	reporter(what: string): (err: unknown) => void {
		return (err) => this.report(what, err);
	}
}

const failureLogs = new WeakMap<ServiceBroker, FailureLog>();
const refusalLogs = new WeakMap<ServiceBroker, BurstLog>();

/** The broker's failure log, shared by its services. */
export function failureLog(broker: ServiceBroker): FailureLog {
	let log = failureLogs.get(broker);
	if (!log) failureLogs.set(broker, (log = new FailureLog(broker, broker.getLogger("degraded"))));
	return log;
}

/** Client requests refused as hostile or out of bounds (unknown socket actions, malformed payloads), sampled. */
export function refusalLog(broker: ServiceBroker): BurstLog {
	let log = refusalLogs.get(broker);
	if (!log) refusalLogs.set(broker, (log = new BurstLog(broker, broker.getLogger("refused"), "colony.refused.requests.total", "Client requests refused before any service ran")));
	return log;
}

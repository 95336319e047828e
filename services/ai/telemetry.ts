import type { Context, ServiceBroker } from "moleculer";
import type { AiUsage } from "../../types/ai";
import type { RequestMeta } from "../../types/users";

const INFERENCE_SECONDS = "colony.ai.inference.seconds";
const TOKENS_PER_SECOND = "colony.ai.tokens.per.second";
const QUEUE_LENGTH = "colony.ai.queue.length";
const IN_FLIGHT = "colony.ai.in.flight";
const FAILURES = "colony.ai.failures.total";

interface LogEntry {
	model: string;
	latencyMs: number;
	queuedMs: number;
	usage?: AiUsage;
	outcome: string;
}

/**
 * What an `ai` node tells operators: Prometheus histograms of inference time and tokens per second by host and
 * model, its queue and in-flight gauges, failures by kind, and one line per request in the AI request log
 * (`LOG_DIR/ai-<node>-<date>.log`): who, which model, which host, how long, how many tokens, the outcome. Never
 * the prompt or the answer.
 */
export class AiTelemetry {
	private readonly requests: ReturnType<ServiceBroker["getLogger"]>;
	private readonly host: string;

	constructor(private readonly broker: ServiceBroker) {
		this.requests = broker.getLogger("ai-requests");
		this.host = broker.nodeID;
		if (!broker.isMetricsEnabled()) return;
		const metrics = broker.metrics;
		if (metrics.getMetric(INFERENCE_SECONDS)) return;
		metrics.register({
			name: INFERENCE_SECONDS,
			type: "histogram",
			labelNames: ["host", "model", "action"],
			description: "Inference time on the host, from its slot to the last token",
			buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
		});
		metrics.register({
			name: TOKENS_PER_SECOND,
			type: "histogram",
			labelNames: ["host", "model"],
			description: "Output tokens per second of each answer, by host and model",
			buckets: [1, 5, 10, 20, 40, 80, 160, 320],
		});
		metrics.register({ name: QUEUE_LENGTH, type: "gauge", labelNames: ["host"], description: "Requests waiting for a slot on the host" });
		metrics.register({ name: IN_FLIGHT, type: "gauge", labelNames: ["host"], description: "Requests running on the host" });
		metrics.register({ name: FAILURES, type: "counter", labelNames: ["host", "kind"], description: "Failed inference calls by kind (unreachable, busy, model-missing…)" });
	}

	inference(action: string, model: string, ms: number, usage: AiUsage): void {
		if (!this.broker.isMetricsEnabled()) return;
		this.broker.metrics.observe(INFERENCE_SECONDS, ms / 1000, { host: this.host, model, action });
		if (usage.outputTokens > 0 && usage.durationMs > 0) {
			this.broker.metrics.observe(TOKENS_PER_SECOND, (usage.outputTokens * 1000) / usage.durationMs, { host: this.host, model });
		}
	}

	load(inFlight: number, queued: number): void {
		if (!this.broker.isMetricsEnabled()) return;
		this.broker.metrics.set(IN_FLIGHT, inFlight, { host: this.host });
		this.broker.metrics.set(QUEUE_LENGTH, queued, { host: this.host });
	}

	failure(kind: string, _model: string): void {
		if (this.broker.isMetricsEnabled()) this.broker.metrics.increment(FAILURES, { host: this.host, kind });
	}

	log(ctx: Context<unknown, RequestMeta>, entry: LogEntry): void {
		this.requests.info({
			time: new Date().toISOString(),
			requestID: ctx.requestID,
			user: ctx.meta.user?.id ?? null,
			action: ctx.action?.name ?? null,
			host: this.host,
			model: entry.model,
			latencyMs: entry.latencyMs,
			queuedMs: entry.queuedMs,
			promptTokens: entry.usage?.promptTokens ?? null,
			outputTokens: entry.usage?.outputTokens ?? null,
			outcome: entry.outcome,
		});
	}
}

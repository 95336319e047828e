import { TracerExporters, type BrokerOptions, type ServiceBroker, type Span, type Tracer } from "moleculer";
import { intFromEnv, type Env } from "../lib/config";

type TracingOptions = Exclude<BrokerOptions["tracing"], boolean | undefined>;

/**
 * One JSON line per finished span, on the "traces" logger (with LOG_DIR, `traces-<node>-<date>.log`): enough to
 * follow one request across nodes by its trace id in ELK, and nothing a caller sent.
 */
export class SpanLogExporter extends TracerExporters.Base {
	private spans?: ReturnType<ServiceBroker["getLogger"]>;

	override init(tracer: Tracer): void {
		super.init(tracer);
		this.spans = tracer.broker.getLogger("traces");
	}

	override spanFinished(span: Span): void {
		const error = span.error && typeof span.error === "object" ? (span.error as Error & { code?: number; type?: string }) : undefined;
		this.spans?.info({
			time: new Date(span.startTime ?? Date.now()).toISOString(),
			traceID: span.traceID,
			spanID: span.id,
			parentID: span.parentID,
			name: span.name,
			kind: span.type,
			service: span.service?.name,
			nodeID: span.tags.nodeID,
			remote: span.tags.remoteCall,
			requestID: span.tags.requestID,
			durationMs: span.duration === null ? undefined : Math.round(span.duration * 1000) / 1000,
			error: error ? { name: error.name, code: error.code, type: error.type } : undefined,
		});
	}
}

/**
 * Tracing is on wherever its spans have somewhere to go: a Zipkin-compatible collector (Zipkin, Jaeger, Grafana
 * Tempo) at ZIPKIN_URL, the trace log with LOG_DIR, or the console with TRACING=console. At most
 * TRACES_PER_SECOND traces are kept per node, so a busy node's tracing costs the same as a quiet one's.
 * Spans never carry an action's parameters or meta (passwords, tokens, message text), nor error data.
 */
export function tracingFrom(env: Env): BrokerOptions["tracing"] {
	// Moleculer takes an exporter instance as well as a type name; its typings know only the names.
	const exporters: unknown[] = [];
	if (env.ZIPKIN_URL) exporters.push({ type: "Zipkin", options: { baseURL: env.ZIPKIN_URL, interval: 5 } });
	if (env.LOG_DIR) exporters.push(new SpanLogExporter({}));
	if (env.TRACING === "console") exporters.push({ type: "Console", options: { logger: null } });
	return {
		enabled: env.TRACING !== "false" && exporters.length > 0,
		exporter: exporters as TracingOptions["exporter"],
		sampling: { tracesPerSecond: intFromEnv(env.TRACES_PER_SECOND, 10, "TRACES_PER_SECOND") },
		errorFields: ["name", "message", "code", "type"],
		tags: { action: { params: false, meta: false }, event: { params: false, meta: false } },
	};
}

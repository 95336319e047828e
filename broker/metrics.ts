import { MetricReporters, type MetricRegistry } from "moleculer";

/**
 * Moleculer's Prometheus reporter, without the HTTP server it would open on a port of its own: each node
 * already serves `/metrics` next to its health checks (the api gateway on PORT, other nodes on HEALTH_PORT).
 */
export class ScrapedPrometheusReporter extends MetricReporters.Prometheus {
	override init(registry: MetricRegistry): void {
		MetricReporters.Base.prototype.init.call(this, registry);
		const labels = this.opts.defaultLabels;
		(this as unknown as { defaultLabels: unknown }).defaultLabels =
			typeof labels === "function" ? labels.call(this, registry) : labels;
	}

	override async stop(): Promise<void> {
		// No server was opened, so there is nothing to close.
	}
}

export function renderMetrics(registry: MetricRegistry | undefined): string {
	const reporters = (registry as unknown as { reporter?: unknown[] } | undefined)?.reporter ?? [];
	const prometheus = reporters.find((r): r is ScrapedPrometheusReporter => r instanceof ScrapedPrometheusReporter);
	return prometheus ? prometheus.generatePrometheusResponse() : "";
}

import { MetricReporters, type MetricRegistry } from "moleculer";

interface HistogramItem {
	labels: Record<string, unknown>;
	buckets?: Record<string, number>;
	count: number;
	sum: number;
}

interface RegisteredMetric {
	name: string;
	type: string;
	quantiles?: unknown;
	generateSnapshot(): HistogramItem[];
}

const CPU_SECONDS = "process.cpu.seconds.total";
const CPU_UTILIZATION = "process.cpu.utilization";
const CPU_SAMPLE_MS = 5_000;

/**
 * Moleculer's Prometheus reporter, without the HTTP server it would open on a port of its own: each node
 * already serves `/metrics` next to its health checks (the api gateway on PORT, other nodes on HEALTH_PORT).
 * It adds what Moleculer's process metrics lack: this process's own CPU time (Moleculer reports the machine's).
 * Histograms get their `_sum` and `_count` series and buckets in ascending order, as Prometheus expects; Moleculer
 * writes those two only for histograms that also compute quantiles, which cost on every observation.
 */
export class ScrapedPrometheusReporter extends MetricReporters.Prometheus {
	private cpuTimer?: NodeJS.Timeout;

	override init(registry: MetricRegistry): void {
		MetricReporters.Base.prototype.init.call(this, registry);
		const labels = this.opts.defaultLabels;
		(this as unknown as { defaultLabels: unknown }).defaultLabels =
			typeof labels === "function" ? labels.call(this, registry) : labels;
		this.watchProcessCpu(registry);
	}

	override async stop(): Promise<void> {
		// No server was opened; only the CPU sampler is left to stop.
		clearInterval(this.cpuTimer);
	}

	override generatePrometheusResponse(): string {
		const histograms = new Map<string, RegisteredMetric>();
		const store = (this.registry as unknown as { store: Map<string, RegisteredMetric> }).store;
		for (const metric of store.values()) {
			if (metric.type === "histogram" && !metric.quantiles) histograms.set(this.formatMetricName(metric.name).replace(/[.-]/g, "_"), metric);
		}
		return super
			.generatePrometheusResponse()
			.split("\n\n")
			.map((block) => {
				const name = /^# TYPE (\S+) histogram$/m.exec(block)?.[1];
				const metric = name ? histograms.get(name) : undefined;
				return name && metric ? this.histogramBlock(name, metric, block) : block;
			})
			.join("\n\n");
	}

	private histogramBlock(name: string, metric: RegisteredMetric, block: string): string {
		const lines = block.split("\n").filter((line) => line.startsWith("# "));
		for (const item of metric.generateSnapshot()) {
			const bounds = Object.keys(item.buckets ?? {}).sort((a, b) => Number(a) - Number(b));
			for (const le of bounds) lines.push(`${name}_bucket${this.labelsToStr(item.labels, { le })} ${item.buckets?.[le] ?? 0}`);
			lines.push(`${name}_bucket${this.labelsToStr(item.labels, { le: "+Inf" })} ${item.count}`);
			lines.push(`${name}_sum${this.labelsToStr(item.labels)} ${item.sum ?? 0}`);
			lines.push(`${name}_count${this.labelsToStr(item.labels)} ${item.count}`);
		}
		return lines.join("\n");
	}

	private watchProcessCpu(registry: MetricRegistry): void {
		registry.register({ name: CPU_SECONDS, type: "counter", description: "CPU time this process used, user and system", unit: "seconds" });
		registry.register({ name: CPU_UTILIZATION, type: "gauge", description: "CPU this process used over the last 5 s (100 = one core)", unit: "percent" });
		let last = { at: process.hrtime.bigint(), usage: process.cpuUsage() };
		const sample = () => {
			const now = { at: process.hrtime.bigint(), usage: process.cpuUsage() };
			const busyMicros = now.usage.user - last.usage.user + (now.usage.system - last.usage.system);
			const elapsedMicros = Number(now.at - last.at) / 1_000;
			registry.set(CPU_SECONDS, (now.usage.user + now.usage.system) / 1e6);
			if (elapsedMicros > 0) registry.set(CPU_UTILIZATION, Math.round((busyMicros / elapsedMicros) * 1_000) / 10);
			last = now;
		};
		sample();
		this.cpuTimer = setInterval(sample, CPU_SAMPLE_MS);
		this.cpuTimer.unref();
	}
}

export function renderMetrics(registry: MetricRegistry | undefined): string {
	const reporters = (registry as unknown as { reporter?: unknown[] } | undefined)?.reporter ?? [];
	const prometheus = reporters.find((r): r is ScrapedPrometheusReporter => r instanceof ScrapedPrometheusReporter);
	return prometheus ? prometheus.generatePrometheusResponse() : "";
}

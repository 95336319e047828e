import type { ServiceBroker } from "moleculer";

const HTTP_SECONDS = "colony.http.request.seconds";

/** Which part of the gateway answered: the REST API, the web app's files, health and metrics, or nothing. */
function areaOf(path: string): string {
	if (path.startsWith("/api/")) return "api";
	if (path.startsWith("/health/") || path === "/metrics") return "health";
	return "web";
}

/**
 * The gateway's HTTP metrics: response time of every answer by area, method and status class (their counts are
 * the error and success rates). moleculer-io counts the WebSocket connections itself (`moleculer_io_socket_active`).
 * Labels stay few on purpose: a path or user label would grow a series per channel or person.
 */
export class GatewayMetrics {
	private readonly enabled: boolean;

	constructor(private readonly broker: ServiceBroker) {
		this.enabled = broker.isMetricsEnabled();
		if (!this.enabled || broker.metrics.getMetric(HTTP_SECONDS)) return;
		broker.metrics.register({
			name: HTTP_SECONDS,
			type: "histogram",
			labelNames: ["area", "method", "status"],
			description: "Time from a request's arrival to the end of its answer, by area, method and status class (2xx, 4xx, 5xx…)",
			unit: "seconds",
			buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
		});
	}

	answered(method: string | undefined, path: string, status: number, ms: number): void {
		if (!this.enabled) return;
		this.broker.metrics.observe(HTTP_SECONDS, ms / 1000, { area: areaOf(path), method: method ?? "?", status: `${Math.floor(status / 100)}xx` });
	}
}

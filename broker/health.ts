import type { ServiceBroker } from "moleculer";
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { renderMetrics } from "./metrics";
import { checkReadiness } from "./readiness";

export type HealthPath = "/health/live" | "/health/ready" | "/metrics";

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

function sameSecret(sent: string, expected: string): boolean {
	const a = Buffer.from(sent);
	const b = Buffer.from(expected);
	return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Metrics are for the scraper: with `METRICS_TOKEN` set, for whoever sends it as a bearer token; without one, for
 * a process on the same machine talking directly (not through a proxy, which would add X-Forwarded-For).
 */
export function mayReadMetrics(req: IncomingMessage, token = process.env.METRICS_TOKEN): boolean {
	if (token) {
		const [scheme, sent] = (req.headers.authorization ?? "").trim().split(/\s+/);
		return scheme?.toLowerCase() === "bearer" && typeof sent === "string" && sameSecret(sent, token);
	}
	return LOOPBACK.has(req.socket.remoteAddress ?? "") && !req.headers["x-forwarded-for"] && !req.headers.forwarded;
}

/** Answers the node's liveness, readiness and Prometheus metrics; shared by the gateway and other nodes. */
export async function answerHealth(broker: ServiceBroker, path: HealthPath, req: IncomingMessage, res: ServerResponse): Promise<void> {
	if (path === "/metrics") {
		if (!mayReadMetrics(req)) {
			// As if there were nothing here: a stranger learns no more than that.
			res.writeHead(404, { "Content-Type": "application/json; charset=utf-8" });
			res.end(JSON.stringify({ name: "NotFoundError", message: "Not found", code: 404, type: "NOT_FOUND" }));
			return;
		}
		res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
		res.end(renderMetrics(broker.metrics));
		return;
	}
	if (path === "/health/live") {
		res.writeHead(200, { "Content-Type": "application/json; charset=utf-8" });
		res.end(JSON.stringify({ status: "ok", nodeID: broker.nodeID }));
		return;
	}
	const report = await checkReadiness(broker);
	res.writeHead(report.ready ? 200 : 503, { "Content-Type": "application/json; charset=utf-8" });
	res.end(JSON.stringify({ status: report.ready ? "ready" : "not ready", nodeID: broker.nodeID, ...report }));
}

/** The health and metrics listener of a node that runs no api gateway (users on 8081, chat on 8082…). */
export function startHealthServer(broker: ServiceBroker, port: number, host = "0.0.0.0"): Promise<Server> {
	const server = createServer((req, res) => {
		const path = (req.url ?? "").split("?")[0];
		if (req.method === "GET" && (path === "/health/live" || path === "/health/ready" || path === "/metrics")) {
			answerHealth(broker, path, req, res).catch(() => {
				if (!res.headersSent) res.writeHead(500);
				res.end();
			});
			return;
		}
		res.writeHead(404, { "Content-Type": "application/json; charset=utf-8" });
		res.end(JSON.stringify({ name: "NotFoundError", message: "Not found", code: 404, type: "NOT_FOUND" }));
	});
	return new Promise((resolve, reject) => {
		server.once("error", reject);
		server.listen(port, host, () => resolve(server));
	});
}

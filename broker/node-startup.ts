import type { ServiceBroker } from "moleculer";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { intFromEnv, isProduction, type Env } from "../lib/config";
import { natsConnectionFrom, unsecuredNats } from "../lib/nats-connection";
import { startHealthServer } from "./health";

/** The health and metrics port of a node without the gateway, by its first service (DESIGN §1). */
const HEALTH_PORTS: Record<string, number> = { users: 8081, chat: 8082, tasks: 8083, ai: 8084, notifications: 8085, knowledge: 8086 };
const OTHER_HEALTH_PORT = 8087;

/**
 * Where a node running these services answers /health/*: the gateway on its own port (`PORT`, 8080), any other node
 * on `HEALTH_PORT`, by default the port of its first service (users 8081, chat 8082…). No services means all of them.
 */
export function healthPortOf(services: string[], env: Env = process.env): number {
	if (services.length === 0 || services.includes("all") || services.includes("api")) return intFromEnv(env.PORT, 8080, "PORT");
	return intFromEnv(env.HEALTH_PORT, HEALTH_PORTS[services[0]] ?? OTHER_HEALTH_PORT, "HEALTH_PORT");
}

/**
 * What every Colony node does once its broker has started, whether `npm start` or moleculer-runner started it:
 * warn about an unsafe production setting, and open the health and metrics listener of a node that runs no
 * gateway (the gateway answers them on its own port). `HEALTH_PORT` overrides the port; 0 takes a free one.
 */
export async function afterNodeStarted(broker: ServiceBroker, env: Env = process.env): Promise<Server | null> {
	if (isProduction(env)) {
		if (!env.METRICS_TOKEN) broker.logger.warn("METRICS_TOKEN is not set: /metrics answers only direct connections from this machine");
		const unsecured = unsecuredNats(natsConnectionFrom(env));
		if (unsecured) broker.logger.warn(unsecured);
	}
	const services = broker.services.map((service) => service.name).filter((name) => !name.startsWith("$"));
	if (services.includes("api")) return null;
	const server = await startHealthServer(broker, healthPortOf(services, env));
	const { address, port: listening } = server.address() as AddressInfo;
	broker.logger.info(`Health and metrics listening on http://${address}:${listening}`);
	return server;
}

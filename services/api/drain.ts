import type { Server } from "node:http";

/** What a gateway needs to stop without cutting anyone off. */
export interface DrainableGateway {
	server?: Server;
	/** HTTP requests answered right now. */
	requestsInFlight: number;
	/** Tells each socket to reconnect (to another gateway) and closes it. */
	closeSockets(reason: string): void;
}

const POLL_MS = 25;

/**
 * Stops a gateway gracefully: no new connections, sockets told to go elsewhere, requests under way answered
 * (for at most `timeoutMs`), then every connection closed. Without this, an open WebSocket kept the HTTP server,
 * and the node's stop, waiting until the client left by itself.
 */
export async function drainGateway(gateway: DrainableGateway, timeoutMs: number): Promise<{ cutOff: number }> {
	const server = gateway.server;
	gateway.closeSockets("This server is restarting: reconnecting to another one");
	if (!server?.listening) return { cutOff: 0 };
	const closed = new Promise<void>((resolve) => server.close(() => resolve()));
	server.closeIdleConnections();
	const deadline = Date.now() + timeoutMs;
	while (gateway.requestsInFlight > 0 && Date.now() < deadline) {
		await new Promise((resolve) => setTimeout(resolve, POLL_MS));
		server.closeIdleConnections();
	}
	const cutOff = gateway.requestsInFlight;
	server.closeAllConnections();
	await closed;
	return { cutOff };
}

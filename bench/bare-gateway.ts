import { ServiceBroker, type ServiceSchema } from "moleculer";
import ApiGateway from "moleculer-web";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { PublicUser } from "../types/users";

/**
 * The baseline of bench/gateway.ts: a Moleculer broker and moleculer-web alone, in their own process, with no
 * transporter, no logger and no authentication. `GET /api/v1/users/me` calls a local action that answers a fixed
 * user in the shape Colony answers, so the two differ only in what Colony does around the call (authentication,
 * rate limiting, the access check, NATS, the database).
 */
const ME: PublicUser = {
	id: 1,
	username: "bench0000",
	email: "bench0000@bench.example.com",
	displayName: "bench0000",
	roles: ["admin"],
	createdAt: "2026-01-01T00:00:00.000Z",
};

const broker = new ServiceBroker({ logger: false });

broker.createService({
	name: "noop",
	actions: {
		me: () => ME,
	},
});

const gateway = broker.createService({
	name: "api",
	mixins: [ApiGateway as unknown as ServiceSchema],
	settings: {
		port: Number(process.env.PORT ?? 0),
		ip: "127.0.0.1",
		routes: [{ path: "/api/v1", aliases: { "GET users/me": "noop.me" } }],
	},
});

broker.start().then(
	() => {
		const { port } = (gateway as unknown as { server: Server }).server.address() as AddressInfo;
		// bench/gateway.ts reads the port from this line.
		console.log(`bare gateway listening on port ${port}`);
	},
	(err: Error) => {
		console.error(`bare gateway failed to start: ${err.message}`);
		process.exit(1);
	},
);

// The broker stops its services itself on SIGINT and SIGTERM, then ends the process.

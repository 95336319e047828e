import type { Socket } from "socket.io-client";
import { delayedRouteService, startPlatform, type Platform } from "../support/platform";
import { connectSocket } from "../support/sockets";

/** A route that takes its time, to be under way when the gateway stops. */
const SlowService = delayedRouteService("slow", 400);

describe("stopping a gateway", () => {
	let platform: Platform;

	beforeEach(async () => {
		platform = await startPlatform({ chat: {}, services: [SlowService], api: { drainTimeoutMs: 5_000 } });
	});

	it("tells connected sockets to reconnect elsewhere and closes them, instead of waiting for them to leave", async () => {
		const ada = await platform.client.signUp("ada");
		const socket: Socket = await connectSocket(platform.client.baseUrl, ada.accessToken);
		const told: string[] = [];
		const disconnected = new Promise<string>((resolve) => socket.on("disconnect", resolve));
		socket.on("server.shutdown", (event: { reason: string }) => told.push(event.reason));

		const started = Date.now();
		await platform.broker.stop();
		socket.close();

		expect(Date.now() - started).toBeLessThan(3_000);
		expect(await disconnected).toBe("io server disconnect");
		expect(told).toEqual([expect.stringMatching(/reconnecting to another one/)]);
	});

	it("answers a request already under way before it stops", async () => {
		const answer = fetch(`${platform.client.baseUrl}/api/v1/slow`).then(async (res) => ({ status: res.status, body: await res.json() }));
		await new Promise((resolve) => setTimeout(resolve, 100));
		await platform.broker.stop();

		expect(await answer).toEqual({ status: 200, body: { answered: true } });
		await expect(fetch(`${platform.client.baseUrl}/api/v1/slow`)).rejects.toThrow();
	});
});

import type { Socket } from "socket.io-client";
import type { ChannelView } from "../../types/chat";
import { startPlatform, type Platform, type SignedInUser } from "../support/platform";
import { callAction, connected, openSocket } from "../support/sockets";

interface Refusal {
	data?: { type: string; code: number };
}

function refusal(socket: Socket): Promise<Refusal> {
	return new Promise((resolve, reject) => {
		socket.once("connect", () => reject(new Error("the socket was let in")));
		socket.once("connect_error", (err) => resolve(err as unknown as Refusal));
	});
}

describe("sockets under attack", () => {
	let platform: Platform;
	let amy: SignedInUser;
	let channel: ChannelView;
	const sockets: Socket[] = [];
	const open = (token?: string) => {
		const socket = openSocket(platform.client.baseUrl, token);
		sockets.push(socket);
		return socket;
	};

	beforeAll(async () => {
		platform = await startPlatform({ chat: {}, api: { maxSocketsPerUser: 3, socketConnectsPerMinute: 40, socketRateLimitPerMinute: 100 } });
		await platform.client.signUp("root");
		amy = await platform.client.signUp("amy");
		channel = (await platform.client.post<{ channel: ChannelView }>("/api/v1/channels", { name: "general", type: "public" }, amy.accessToken)).body.channel;
	});
	afterAll(async () => {
		for (const socket of sockets) socket.close();
		await platform.broker.stop();
	});

	it("refuses calls of unpublished actions at once, counts them against the caller's budget, and logs a sample", async () => {
		const socket = await connected(open(amy.accessToken));
		const started = Date.now();
		const answers = await Promise.all(Array.from({ length: 50 }, () => callAction(socket, "$node.list").catch((err: { code: number }) => err.code)));
		const elapsed = Date.now() - started;
		const budgetLeft = await callAction(socket, "chat.unread").then(
			() => "allowed",
			(err: { type: string }) => err.type,
		);
		const counted = platform.broker.metrics.getMetric("colony.refused.requests.total")?.snapshot() as unknown as { value: number }[];

		expect(new Set(answers)).toEqual(new Set([404]));
		expect(elapsed).toBeLessThan(1_000);
		expect(budgetLeft).toBe("allowed");
		expect(counted.reduce((sum, item) => sum + item.value, 0)).toBeGreaterThanOrEqual(50);
		// 50 refusals and one call leave 49 of the 100 per minute.
		const spend = await Promise.all(Array.from({ length: 60 }, () => callAction(socket, "chat.unread").then(() => 200, (err: { code: number }) => err.code)));
		expect(spend.filter((code) => code === 429).length).toBeGreaterThan(0);
		socket.close();
	});

	it("throttles typing per channel on the validated id: 2, \"02\" and \" 2\" are the same channel", async () => {
		const tina = await platform.client.signUp("tina");
		await platform.client.post(`/api/v1/channels/${channel.id}/join`, {}, tina.accessToken);
		const socket = await connected(open(tina.accessToken));
		await callAction(socket, "chat.typing", { channelId: channel.id });

		for (const alias of [`0${channel.id}`, ` ${channel.id}`, String(channel.id)]) {
			await expect(callAction(socket, "chat.typing", { channelId: alias })).rejects.toMatchObject({ code: 429, type: "THROTTLED" });
		}
		socket.close();
	});

	it("caps the sockets one user holds on a gateway", async () => {
		const session = await platform.client.signUp("sam");
		const held = [];
		for (let i = 0; i < 3; i++) held.push(await connected(open(session.accessToken)));

		const fourth = await refusal(open(session.accessToken));

		expect(fourth.data).toEqual({ type: "TOO_MANY_SOCKETS", code: 429 });
		for (const socket of held) socket.close();
	});

	it("caps connection attempts per address, good tokens or bad", async () => {
		const outcomes = await Promise.all(
			Array.from({ length: 60 }, () =>
				refusal(open("not-a-token")).then(
					(refused) => refused.data?.type,
					() => "connected",
				),
			),
		);

		expect(outcomes.filter((type) => type === "RATE_LIMITED").length).toBeGreaterThan(10);
		expect(outcomes.filter((type) => type !== "RATE_LIMITED" && type !== "INVALID_TOKEN")).toEqual([]);
	});
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context, Service, ServiceBroker } from "moleculer";
import type { Server, Socket as ServerSocket } from "socket.io";
import {
	ColonyApiError,
	ColonyRestClient,
	MemoryOutboxStorage,
	WebSocketBridge,
	type AccessTokenProvider,
	type FetchLike,
	type MessageView,
	type OutboxStorage,
	type WebSocketBridgeOptions,
} from "../../client";
import type { UsersSettings } from "../../services/users/users.service";
import { apiService, chatService, gatewayUrl, testBroker, usersService } from "../support/platform";
import { until } from "../support/waiting";

const PASSWORD = "correct horse battery";
// Token expiry is counted in whole seconds: with 2 s, a fresh token lives at least 1 s, and 2.2 s after
// login the first one has surely expired.
const TOKEN_TTL_SECONDS = 2;
const TOKEN_EXPIRED_AFTER_MS = 2_200;


/** What a user's screen shows: every message the bridge delivered, in delivery order. */
function inbox(bridge: WebSocketBridge): MessageView[] {
	const seen: MessageView[] = [];
	bridge.onMessage((message) => seen.push(message));
	return seen;
}

const texts = (messages: MessageView[]) => messages.map((message) => message.text);

/** A token provider whose answers can be held back, to keep a bridge offline for as long as a test needs. */
function gated(provider: AccessTokenProvider): { provider: AccessTokenProvider; close(): void; open(): void } {
	let gate: Promise<void> = Promise.resolve();
	let release = () => {};
	return {
		provider: async (request) => {
			await gate;
			return provider(request);
		},
		close() {
			gate = new Promise((resolve) => {
				release = resolve;
			});
		},
		open() {
			release();
		},
	};
}

/** An AsyncStorage look-alike: asynchronous, and only strings go in and out. */
class AsyncStringStorage implements OutboxStorage {
	readonly values = new Map<string, string>();

	async getItem(key: string): Promise<string | null> {
		return this.values.get(key) ?? null;
	}

	async setItem(key: string, value: string): Promise<void> {
		this.values.set(key, value);
	}
}

interface Platform {
	broker: ServiceBroker;
	url: string;
	/** Stops the chat service, as a chat node that crashed or is restarting; `startChat` brings it back, data kept. */
	stopChat(): Promise<void>;
	startChat(): Promise<void>;
	/** The gateway's sockets of a user, to cut them off from the server side. */
	serverSockets(userId: number): ServerSocket[];
}

async function startPlatform(users: Partial<UsersSettings>, dropAck: () => boolean): Promise<Platform> {
	const broker = testBroker({
		middlewares: [
			{
				name: "DropAcknowledgement",
				// Lets a chat.send through, then cuts its socket off before the answer can leave: a lost ack.
				localAction(next, action) {
					if (action.name !== "chat.send") return next;
					return async function (this: Service, ctx: Context) {
						const result = await next.call(this, ctx);
						if (dropAck()) {
							const socketId = (ctx.meta as { $socketId?: string }).$socketId;
							if (socketId) io().of("/").sockets.get(socketId)?.disconnect(true);
						}
						return result;
					};
				},
			},
		],
	});
	const io = () => (broker.getLocalService("api") as unknown as { io: Server }).io;
	// On a file, so the chat service can be stopped and started again with its messages and members.
	const chatDirectory = mkdtempSync(join(tmpdir(), "colony-bridge-"));
	const chat = () => chatService({ databaseUri: `sqlite:${join(chatDirectory, "chat.sqlite")}` });
	broker.createService(usersService(users));
	broker.createService(chat());
	broker.createService(apiService({ rateLimitPerMinute: 10_000 }));
	broker.localBus.once("$broker.stopped", () => rmSync(chatDirectory, { recursive: true, force: true }));
	await broker.start();
	return {
		broker,
		url: gatewayUrl(broker),
		stopChat: () => broker.destroyService(broker.getLocalService("chat")!),
		startChat: async () => {
			broker.createService(chat());
			await broker.waitForServices("chat");
		},
		serverSockets: (userId) =>
			[...io().of("/").sockets.values()].filter((socket) => (socket.data as { user?: { id: number } }).user?.id === userId),
	};
}

describe("WebSocketBridge against a local platform", () => {
	let platform: Platform;
	let dropNextAck = false;
	const bridges: WebSocketBridge[] = [];
	const people: Record<string, { rest: ColonyRestClient; id: number }> = {};
	let general: number;
	let random: number;

	function bridge(options: WebSocketBridgeOptions = {}): WebSocketBridge {
		const created = new WebSocketBridge({ reconnectionDelay: 50, reconnectionDelayMax: 500, ackTimeoutMs: 5_000, ...options });
		bridges.push(created);
		return created;
	}

	beforeAll(async () => {
		platform = await startPlatform({}, () => {
			const drop = dropNextAck;
			dropNextAck = false;
			return drop;
		});
		for (const name of ["alice", "bob", "carol"]) {
			const rest = new ColonyRestClient({ baseUrl: platform.url });
			await rest.register({ username: name, email: `${name}@example.com`, password: PASSWORD });
			const user = await rest.login(name, PASSWORD);
			people[name] = { rest, id: user.id };
		}
		general = (await people.alice.rest.createChannel({ name: "general", type: "public" })).id;
		random = (await people.alice.rest.createChannel({ name: "random", type: "public" })).id;
		for (const name of ["bob", "carol"]) {
			await people[name].rest.joinChannel(general);
			await people[name].rest.joinChannel(random);
		}
	});

	afterAll(async () => {
		for (const created of bridges) created.disconnect();
		await platform.broker.stop();
	});

	it("lets two users talk in real time, each message seen once by each", async () => {
		const alice = bridge();
		const bob = bridge();
		const aliceSees = inbox(alice);
		const bobSees = inbox(bob);
		expect(await alice.connect(platform.url, people.alice.rest.tokenProvider())).toBe(true);
		expect(await bob.connect(platform.url, people.bob.rest.tokenProvider())).toBe(true);

		const hello = await alice.sendMessage({ channelId: general, text: "hello bob" });
		await until(() => bobSees.length === 1, "bob sees alice's message");
		expect(hello).toMatchObject({ status: "sent", message: { text: "hello bob", userId: people.alice.id } });
		const reply = await bob.sendMessage({ channelId: general, text: "hi alice", parentId: bobSees[0].id });
		await until(() => aliceSees.length === 2 && bobSees.length === 2, "both see both messages");

		expect(reply).toMatchObject({ status: "sent", message: { parentId: bobSees[0].id } });
		expect(texts(aliceSees)).toEqual(["hello bob", "hi alice"]);
		expect(texts(bobSees)).toEqual(["hello bob", "hi alice"]);
		expect(aliceSees[0].clientMsgId).toEqual(hello.clientMsgId);
		alice.disconnect();
		bob.disconnect();
	});

	it("passes on typing, edits and deletions as typed events", async () => {
		const alice = bridge();
		const bob = bridge();
		await alice.connect(platform.url, people.alice.rest.tokenProvider());
		await bob.connect(platform.url, people.bob.rest.tokenProvider());
		const typing: number[] = [];
		const updated: (string | null)[] = [];
		const deleted: number[] = [];
		bob.on("chat.typing", (event) => typing.push(event.userId));
		bob.on("chat.message.updated", (message) => updated.push(message.text));
		bob.on("chat.message.deleted", (message) => deleted.push(message.id));

		await alice.typing(random);
		const sent = await people.alice.rest.sendMessage({ channelId: random, text: "draft" });
		await people.alice.rest.editMessage(sent.id, "edited");
		await people.alice.rest.deleteMessage(sent.id);
		await until(() => deleted.length === 1, "bob hears of the deletion");

		expect(typing).toEqual([people.alice.id]);
		expect(updated).toEqual(["edited"]);
		expect(deleted).toEqual([sent.id]);
		alice.disconnect();
		bob.disconnect();
	});

	it("queues messages written while the connection is down and delivers each exactly once after reconnecting", async () => {
		const aliceToken = gated(people.alice.rest.tokenProvider());
		const alice = bridge();
		const bob = bridge();
		const aliceSees = inbox(alice);
		const bobSees = inbox(bob);
		await alice.connect(platform.url, aliceToken.provider);
		await bob.connect(platform.url, people.bob.rest.tokenProvider());

		aliceToken.close();
		for (const socket of platform.serverSockets(people.alice.id)) socket.conn.close();
		await until(() => !alice.connected, "alice's connection is down");
		const results = [];
		for (const text of ["offline 1", "offline 2", "offline 3"]) results.push(await alice.sendMessage({ channelId: general, text }));
		expect(results.map((result) => result.status)).toEqual(["queued", "queued", "queued"]);
		expect((await alice.pendingMessages()).map((item) => item.text)).toEqual(["offline 1", "offline 2", "offline 3"]);

		aliceToken.open();
		await until(() => bobSees.length === 3, "bob gets the queued messages");
		await alice.sendMessage({ channelId: general, text: "back online" });
		await until(() => bobSees.length >= 4 && aliceSees.length >= 4, "both see the message sent after the reconnection");

		const expected = ["offline 1", "offline 2", "offline 3", "back online"];
		expect(texts(bobSees)).toEqual(expected);
		expect(texts(aliceSees)).toEqual(expected);
		expect(await alice.pendingMessages()).toEqual([]);
		const stored = (await people.bob.rest.history(general, { limit: 4 })).items.map((m) => m.text).reverse();
		expect(stored).toEqual(expected);
		alice.disconnect();
		bob.disconnect();
	});

	it("resends a message whose acknowledgement was lost, and it is stored and shown once", async () => {
		const aliceToken = gated(people.alice.rest.tokenProvider());
		const alice = bridge();
		const bob = bridge();
		const aliceSees = inbox(alice);
		const bobSees = inbox(bob);
		await alice.connect(platform.url, aliceToken.provider);
		await bob.connect(platform.url, people.bob.rest.tokenProvider());

		aliceToken.close();
		dropNextAck = true;
		const lost = await alice.sendMessage({ channelId: random, text: "was the answer lost?" });
		expect(lost.status).toBe("queued");
		// Unacknowledged, so still in the outbox, though the server stored it.
		expect((await alice.pendingMessages()).map((item) => item.clientMsgId)).toEqual([lost.clientMsgId]);
		aliceToken.open();
		await until(() => alice.connected, "alice reconnects");
		await alice.sendMessage({ channelId: random, text: "after the retry" });
		await until(() => bobSees.length >= 2 && aliceSees.length >= 2, "both see both messages");

		expect(texts(bobSees)).toEqual(["was the answer lost?", "after the retry"]);
		expect(texts(aliceSees)).toEqual(["was the answer lost?", "after the retry"]);
		const stored = (await people.bob.rest.history(random)).items.filter((m) => m.clientMsgId === lost.clientMsgId);
		expect(stored).toHaveLength(1);
		alice.disconnect();
		bob.disconnect();
	});

	it("catches up on what others sent while it was offline, in order and without duplicates", async () => {
		const bobToken = gated(people.bob.rest.tokenProvider());
		const bob = bridge({ catchUpPageSize: 2 });
		const bobSees = inbox(bob);
		await bob.connect(platform.url, bobToken.provider);
		await people.alice.rest.sendMessage({ channelId: general, text: "before, general" });
		await people.carol.rest.sendMessage({ channelId: random, text: "before, random" });
		await until(() => bobSees.length === 2, "bob sees the messages sent while he is online");

		bobToken.close();
		for (const socket of platform.serverSockets(people.bob.id)) socket.disconnect(true);
		await until(() => !bob.connected, "bob is offline");
		const missed = ["missed 1", "missed 2", "missed 3", "missed 4", "missed 5", "missed 6"];
		for (const [i, text] of missed.entries()) {
			const author = i % 2 === 0 ? people.alice.rest : people.carol.rest;
			await author.sendMessage({ channelId: i % 3 === 0 ? random : general, text });
		}
		bobToken.open();
		await until(() => bobSees.length >= 8, "bob has caught up");
		await people.alice.rest.sendMessage({ channelId: general, text: "live again" });
		await until(() => bobSees.length >= 9, "bob gets live messages again");

		expect(texts(bobSees)).toEqual(["before, general", "before, random", ...missed, "live again"]);
		const ids = bobSees.map((message) => message.id);
		expect(ids).toEqual([...ids].sort((a, b) => a - b));
		expect(new Set(ids).size).toBe(ids.length);
		bob.disconnect();
	});

	it("keeps the outbox in the injected storage, so messages survive a restart of the app", async () => {
		const storage = new AsyncStringStorage();
		const bobSees = inbox(await connected(bridge(), "bob"));

		const beforeRestart = bridge({ outboxStorage: storage, outboxKey: "outbox:alice" });
		const queued = [
			await beforeRestart.sendMessage({ channelId: general, text: "written offline 1" }),
			await beforeRestart.sendMessage({ channelId: general, text: "written offline 2", clientMsgId: "alice-offline-2" }),
		];
		expect(queued.map((result) => result.status)).toEqual(["queued", "queued"]);
		const kept = JSON.parse(storage.values.get("outbox:alice") ?? "[]") as { text: string; clientMsgId: string }[];
		expect(kept.map((item) => item.text)).toEqual(["written offline 1", "written offline 2"]);
		expect(kept[1].clientMsgId).toBe("alice-offline-2");

		const afterRestart = bridge({ outboxStorage: storage, outboxKey: "outbox:alice" });
		await afterRestart.connect(platform.url, people.alice.rest.tokenProvider());
		await until(() => bobSees.length === 2, "bob gets the messages written before the restart");
		await afterRestart.sendMessage({ channelId: general, text: "after the restart" });
		await until(() => bobSees.length >= 3, "bob gets the next message");

		expect(texts(bobSees)).toEqual(["written offline 1", "written offline 2", "after the restart"]);
		expect(JSON.parse(storage.values.get("outbox:alice") ?? "null")).toEqual([]);
	});

	it("keeps messages sent while the chat service is down or restarting, and delivers them in order once it is back", async () => {
		const alice = await connected(bridge(), "alice");
		const bobSees = inbox(await connected(bridge(), "bob"));
		const rejected: string[] = [];
		alice.on("outbox.rejected", ({ item, error }) => rejected.push(`${item.text}: ${error.type}`));

		await platform.stopChat();
		const results = [];
		for (const text of ["while chat is down 1", "while chat is down 2"]) results.push(await alice.sendMessage({ channelId: general, text }));
		expect(results.map((result) => result.status)).toEqual(["queued", "queued"]);
		await platform.startChat();
		await alice.sendMessage({ channelId: general, text: "chat is back" });
		await until(() => bobSees.length >= 3, "bob gets the messages sent while chat was down");

		const expected = ["while chat is down 1", "while chat is down 2", "chat is back"];
		expect(rejected).toEqual([]);
		expect(texts(bobSees)).toEqual(expected);
		expect(await alice.pendingMessages()).toEqual([]);
		expect((await people.bob.rest.history(general, { limit: 3 })).items.map((m) => m.text).reverse()).toEqual(expected);
	});

	it("refuses a message the server will never take, and does not keep it", async () => {
		const secret = (await people.alice.rest.createChannel({ name: "alice-only", type: "private" })).id;
		const bob = await connected(bridge(), "bob");
		const rejected: string[] = [];
		bob.on("outbox.rejected", ({ item, error }) => rejected.push(`${item.text}: ${error.type}`));

		const refusal = await bob.sendMessage({ channelId: secret, text: "let me in" }).catch((err: unknown) => err);

		expect(refusal).toBeInstanceOf(ColonyApiError);
		expect(refusal).toMatchObject({ status: 403, type: "NOT_A_MEMBER" });
		expect(rejected).toEqual(["let me in: NOT_A_MEMBER"]);
		expect(await bob.pendingMessages()).toEqual([]);
		await expect(bob.sendMessage({ channelId: general, text: "   " })).rejects.toMatchObject({ type: "VALIDATION_ERROR" });
	});

	it("stops when the server refuses its token, and when the session is signed out", async () => {
		const refused = bridge();
		const errors: string[] = [];
		refused.on("error", (error) => errors.push(error.type));
		expect(await refused.connect(platform.url, "not-a-token")).toBe(false);
		expect(errors).toEqual(["INVALID_TOKEN"]);

		const dave = new ColonyRestClient({ baseUrl: platform.url });
		await dave.register({ username: "dave", email: "dave@example.com", password: PASSWORD });
		await dave.login("dave", PASSWORD);
		const daves = bridge();
		const ended: string[] = [];
		const disconnections: boolean[] = [];
		daves.on("session.ended", ({ reason }) => ended.push(reason));
		daves.on("disconnected", ({ willReconnect }) => disconnections.push(willReconnect));
		await daves.connect(platform.url, dave.tokenProvider());
		await dave.logout();
		await until(() => ended.length === 1 && disconnections.length === 1, "dave's bridge hears of the sign-out");

		expect(ended).toEqual(["Signed out"]);
		expect(disconnections).toEqual([false]);
		expect(daves.connected).toBe(false);
	});

	async function connected(created: WebSocketBridge, name: string): Promise<WebSocketBridge> {
		expect(await created.connect(platform.url, people[name].rest.tokenProvider())).toBe(true);
		return created;
	}
});

describe("WebSocketBridge with short-lived access tokens", () => {
	let platform: Platform;
	const bridges: WebSocketBridge[] = [];

	beforeAll(async () => {
		platform = await startPlatform({ accessTokenTtlSeconds: TOKEN_TTL_SECONDS }, () => false);
	});
	afterAll(async () => {
		for (const created of bridges) created.disconnect();
		await platform.broker.stop();
	});

	it("renews its token over the open socket before it expires: the connection outlives its tokens", async () => {
		const rest = new ColonyRestClient({ baseUrl: platform.url });
		await rest.register({ username: "fay", email: "fay@example.com", password: PASSWORD });
		await rest.login("fay", PASSWORD);
		const channel = (await rest.createChannel({ name: "renewal", type: "public" })).id;
		const fay = new WebSocketBridge({ reconnectionDelay: 50, reconnectionDelayMax: 500 });
		bridges.push(fay);
		const seen = inbox(fay);
		const connections: boolean[] = [];
		fay.on("connected", ({ reconnect }) => connections.push(reconnect));
		await fay.connect(platform.url, rest.tokenProvider());

		await new Promise((resolve) => setTimeout(resolve, TOKEN_EXPIRED_AFTER_MS * 2));
		const sent = await fay.sendMessage({ channelId: channel, text: "two tokens later" });
		await until(() => seen.length === 1, "the message arrives");

		expect(sent.status).toBe("sent");
		expect(connections).toEqual([false]);
		expect(fay.connected).toBe(true);
	});

	it("reconnects with a fresh token when it could not renew in time and the server dropped it, and sends what was queued", async () => {
		const requests: string[] = [];
		const recording: FetchLike = (url, init) => {
			requests.push(`${init.method} ${new URL(url).pathname}`);
			return fetch(url, init);
		};
		// A clock that stands still: only the server tells the client its token expires.
		const frozen = Date.now();
		const rest = new ColonyRestClient({ baseUrl: platform.url, fetch: recording, now: () => frozen });
		await rest.register({ username: "erin", email: "erin@example.com", password: PASSWORD });
		await rest.login("erin", PASSWORD);
		const channel = (await rest.createChannel({ name: "expiry", type: "public" })).id;
		const provider = rest.tokenProvider();
		let current = "";
		// The renewal before expiry fails (as when the network blinks), the one after the server's refusal works.
		const flaky: AccessTokenProvider = async (request) => {
			if (request.refused?.error.type === "TOKEN_EXPIRING") return current;
			current = await provider(request);
			return current;
		};
		const erin = new WebSocketBridge({ reconnectionDelay: 50, reconnectionDelayMax: 500, outboxStorage: new MemoryOutboxStorage() });
		bridges.push(erin);
		const seen = inbox(erin);
		const reconnections: boolean[] = [];
		erin.on("connected", ({ reconnect }) => reconnections.push(reconnect));
		await erin.connect(platform.url, flaky);
		await until(() => !erin.connected, "the server drops the socket at its token's expiry", 5_000);

		const sent = await erin.sendMessage({ channelId: channel, text: "sent with an expired token" });
		await until(() => seen.length === 1, "the message goes out after the reconnection");

		expect(sent.status).toBe("queued");
		expect(reconnections).toEqual([false, true]);
		expect(texts(seen)).toEqual(["sent with an expired token"]);
		expect(requests.filter((request) => request === "POST /api/v1/auth/refresh")).toHaveLength(1);
		expect(await erin.pendingMessages()).toEqual([]);
	});
});

import type { ServiceBroker } from "moleculer";
import { ColonyApiError, ColonyRestClient, MemoryTokenStorage, type FetchLike } from "../../client";
import { apiService, chatService, gatewayUrl, RestClient, testBroker, usersService } from "../support/platform";
import { failure } from "../support/api-failure";
import type { UsersSettings } from "../../services/users/users.service";

const PASSWORD = "correct horse battery";
// Token expiry is counted in whole seconds: with 2 s, a fresh token lives at least 1 s, and 2.2 s after
// login the first one has surely expired.
const TOKEN_TTL_SECONDS = 2;
const TOKEN_EXPIRED_AFTER_MS = 2_200;

/** The real `fetch`, recording each request as "METHOD /path". */
function recordingFetch(): { fetch: FetchLike; requests: string[]; refreshes(): number } {
	const requests: string[] = [];
	return {
		requests,
		fetch: (url, init) => {
			requests.push(`${init.method} ${new URL(url).pathname}`);
			return fetch(url, init);
		},
		refreshes: () => requests.filter((request) => request === "POST /api/v1/auth/refresh").length,
	};
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function platform(users: Partial<UsersSettings> = {}): Promise<{ broker: ServiceBroker; url: string }> {
	const broker = testBroker();
	broker.createService(usersService(users));
	broker.createService(chatService());
	broker.createService(apiService({ rateLimitPerMinute: 10_000 }));
	await broker.start();
	return { broker, url: gatewayUrl(broker) };
}

describe("ColonyRestClient", () => {
	let broker: ServiceBroker;
	let url: string;

	beforeAll(async () => {
		({ broker, url } = await platform());
	});
	afterAll(() => broker.stop());

	async function signedIn(username: string, options: { storage?: MemoryTokenStorage } = {}): Promise<ColonyRestClient> {
		const client = new ColonyRestClient({ baseUrl: url, tokenStorage: options.storage });
		await client.register({ username, email: `${username}@example.com`, password: PASSWORD });
		await client.login(username, PASSWORD);
		return client;
	}

	it("signs in, creates a channel, posts to it and reads it back", async () => {
		const alice = await signedIn("alice");
		expect(await alice.me()).toMatchObject({ username: "alice", email: "alice@example.com" });

		const general = await alice.createChannel({ name: "general", type: "public", topic: "Everything" });
		const first = await alice.sendMessage({ channelId: general.id, text: "hello world" });
		const reply = await alice.sendMessage({ channelId: general.id, text: "in a thread", parentId: first.id });

		expect(first).toMatchObject({ channelId: general.id, text: "hello world", parentId: null });
		expect(reply.parentId).toBe(first.id);
		const page = await alice.history(general.id);
		expect(page.items.map((m) => m.text)).toEqual(["in a thread", "hello world"]);
		expect((await alice.history(general.id, { parentId: first.id })).items.map((m) => m.text)).toEqual(["in a thread"]);
		expect(await alice.listChannels()).toEqual([expect.objectContaining({ id: general.id, name: "general", member: true })]);
	});

	it("covers the chat routes: join, members, direct messages, edits, reactions, read markers", async () => {
		const owner = await signedIn("owner");
		const bob = await signedIn("bob");
		const bobId = (await bob.me()).id;
		const ownerId = (await owner.me()).id;

		const lounge = await owner.createChannel({ name: "lounge", type: "public" });
		const hideout = await owner.createChannel({ name: "hideout", type: "private" });
		expect(await bob.joinChannel(lounge.id)).toMatchObject({ id: lounge.id });
		expect(await owner.addMember(hideout.id, bobId)).toMatchObject({ id: hideout.id });

		const direct = await bob.openDirect(ownerId);
		expect(direct.type).toBe("direct");
		expect((await owner.openDirect(bobId)).id).toBe(direct.id);

		const sent = await owner.sendMessage({ channelId: lounge.id, text: "first draft" });
		expect((await owner.editMessage(sent.id, "final text")).text).toBe("final text");
		expect((await bob.react(sent.id, "👍")).reactions).toEqual([{ emoji: "👍", count: 1, userIds: [bobId] }]);
		expect((await bob.unread()).find((u) => u.channelId === lounge.id)).toMatchObject({ unread: 1 });
		expect((await bob.markRead(lounge.id, sent.id)).find((u) => u.channelId === lounge.id)).toMatchObject({ unread: 0 });
		expect(await owner.deleteMessage(sent.id)).toMatchObject({ id: sent.id, text: null });
	});

	it("stores a message once when it is sent again with the same clientMsgId", async () => {
		const carol = await signedIn("carol");
		const channel = await carol.createChannel({ name: "retries", type: "public" });
		const once = await carol.sendMessage({ channelId: channel.id, text: "only once", clientMsgId: "carol-1" });
		const again = await carol.sendMessage({ channelId: channel.id, text: "only once", clientMsgId: "carol-1" });

		expect(again.id).toBe(once.id);
		expect((await carol.history(channel.id)).items.map((m) => m.id)).toEqual([once.id]);
	});

	it("answers refusals as typed errors with the server's status, type and data", async () => {
		const client = new ColonyRestClient({ baseUrl: url });
		expect(await failure(client.login("nobody", PASSWORD))).toMatchObject({ status: 401, type: "INVALID_CREDENTIALS" });
		expect(await failure(client.me())).toMatchObject({ status: 401, type: "NOT_SIGNED_IN" });

		const dave = await signedIn("dave");
		const invalid = await failure(dave.createChannel({ name: "Not a valid name!", type: "public" }));
		expect(invalid).toBeInstanceOf(ColonyApiError);
		expect(invalid).toMatchObject({ status: 422, type: "VALIDATION_ERROR" });
		expect(invalid.data).toEqual([expect.objectContaining({ field: "name" })]);

		const erin = await signedIn("erin");
		const secret = await dave.createChannel({ name: "dave-only", type: "private" });
		expect(await failure(erin.sendMessage({ channelId: secret.id, text: "let me in" }))).toMatchObject({
			status: 403,
			type: "NOT_A_MEMBER",
		});
	});

	it("keeps its tokens in the injected storage, so a client built on it later is still signed in", async () => {
		const storage = new MemoryTokenStorage();
		await signedIn("frank", { storage });
		expect(storage.get()).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });

		const afterRestart = new ColonyRestClient({ baseUrl: url, tokenStorage: storage });
		expect(await afterRestart.isSignedIn()).toBe(true);
		expect((await afterRestart.me()).username).toBe("frank");
	});

	it("signs out: the session is forgotten and its access token stops working at once", async () => {
		const storage = new MemoryTokenStorage();
		const grace = await signedIn("grace", { storage });
		const session = storage.get();
		await grace.logout();

		expect(await grace.isSignedIn()).toBe(false);
		expect(storage.get()).toBeNull();
		const stale = new MemoryTokenStorage();
		stale.set(session!);
		const withOldToken = new ColonyRestClient({ baseUrl: url, tokenStorage: stale });
		expect(await failure(withOldToken.me())).toMatchObject({ status: 401, type: "TOKEN_REVOKED" });
	});

	it("gives up on a request that gets no answer within its timeout", async () => {
		const silent: FetchLike = (_url, init) =>
			new Promise((_resolve, reject) => init.signal.addEventListener("abort", () => reject(new Error("aborted"))));
		const client = new ColonyRestClient({ baseUrl: url, fetch: silent, timeoutMs: 50 });

		expect(await failure(client.register({ username: "henry", email: "henry@example.com", password: PASSWORD }))).toMatchObject({
			status: 0,
			type: "TIMEOUT",
		});
	});

	it("reports an unreachable server as a network error", async () => {
		const client = new ColonyRestClient({ baseUrl: "http://127.0.0.1:9", timeoutMs: 5_000 });
		expect(await failure(client.login("anyone", PASSWORD))).toMatchObject({ status: 0, type: "NETWORK_ERROR" });
	});
});

describe("ColonyRestClient with short-lived access tokens", () => {
	let broker: ServiceBroker;
	let url: string;
	let count = 0;

	beforeAll(async () => {
		({ broker, url } = await platform({ accessTokenTtlSeconds: TOKEN_TTL_SECONDS }));
	});
	afterAll(() => broker.stop());

	async function signedIn(options: { now?: () => number; storage?: MemoryTokenStorage; onSessionEnded?: (e: ColonyApiError) => void } = {}) {
		const username = `user${++count}`;
		const recorder = recordingFetch();
		const client = new ColonyRestClient({
			baseUrl: url,
			fetch: recorder.fetch,
			tokenStorage: options.storage,
			now: options.now,
			onSessionEnded: options.onSessionEnded,
		});
		await client.register({ username, email: `${username}@example.com`, password: PASSWORD });
		await client.login(username, PASSWORD);
		return { client, recorder, username };
	}

	it("refreshes an expired access token by itself before the call, once for many calls at once", async () => {
		const { client, recorder, username } = await signedIn();
		await pause(TOKEN_EXPIRED_AFTER_MS);

		const answers = await Promise.all([client.me(), client.me(), client.listChannels(), client.unread(), client.me()]);

		expect(answers[0]).toMatchObject({ username });
		expect(recorder.refreshes()).toBe(1);
		// Refreshed ahead: no call was sent with the expired token and refused.
		expect(recorder.requests.filter((request) => request === "GET /api/v1/users/me")).toHaveLength(3);
	});

	it("refreshes when the server says the token expired though the client's clock disagrees, once for all calls", async () => {
		// A clock that stands still: the client believes its token is fresh, only the server knows better.
		const frozen = Date.now();
		const { client, recorder, username } = await signedIn({ now: () => frozen });
		await pause(TOKEN_EXPIRED_AFTER_MS);

		const answers = await Promise.all([client.me(), client.me(), client.listChannels(), client.unread(), client.me()]);

		expect(answers.map((answer) => ("username" in answer ? answer.username : "list"))).toEqual([username, username, "list", "list", username]);
		expect(recorder.refreshes()).toBe(1);
		expect(recorder.requests.filter((request) => request === "GET /api/v1/users/me")).toHaveLength(6);
	});

	it("lets two clients on one storage (two browser tabs) refresh at once without one ending the other's session", async () => {
		const storage = new MemoryTokenStorage();
		let held: Promise<unknown> = Promise.resolve();
		// What navigator.locks gives a browser: one holder at a time.
		const refreshLock = <T>(work: () => Promise<T>): Promise<T> => {
			const run = held.then(work, work);
			held = run.catch(() => undefined);
			return run;
		};
		const { username } = await signedIn({ storage });
		const ended: ColonyApiError[] = [];
		const second = new ColonyRestClient({ baseUrl: url, tokenStorage: storage, refreshLock, onSessionEnded: (reason) => ended.push(reason) });
		const firstShared = new ColonyRestClient({ baseUrl: url, tokenStorage: storage, refreshLock, onSessionEnded: (reason) => ended.push(reason) });
		expect(await firstShared.me()).toMatchObject({ username });
		await pause(TOKEN_EXPIRED_AFTER_MS);

		const [a, b] = await Promise.all([firstShared.me(), second.me()]);
		expect([a.username, b.username]).toEqual([username, username]);
		await pause(TOKEN_EXPIRED_AFTER_MS);
		expect((await Promise.all([second.me(), firstShared.me()])).map((user) => user.username)).toEqual([username, username]);
		expect(ended).toEqual([]);
	});

	it("ends the session with a typed error when the refresh token is refused", async () => {
		const storage = new MemoryTokenStorage();
		const ended: ColonyApiError[] = [];
		const { client } = await signedIn({ storage, onSessionEnded: (reason) => ended.push(reason) });
		// Someone else uses the refresh token first (a stolen copy): the client's own use is then a reuse.
		await new RestClient(url).post("/api/v1/auth/refresh", { refreshToken: storage.get()!.refreshToken });
		await pause(TOKEN_EXPIRED_AFTER_MS);

		const refused = await failure(client.me());

		expect(refused).toMatchObject({ status: 401, type: "REFRESH_TOKEN_REUSED" });
		expect(ended).toEqual([refused]);
		expect(storage.get()).toBeNull();
		expect(await client.isSignedIn()).toBe(false);
		expect(await failure(client.me())).toMatchObject({ type: "NOT_SIGNED_IN" });
	});
});

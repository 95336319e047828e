import type { ServiceBroker } from "moleculer";
import type { ChannelView } from "../../types/chat";
import type { TokenPair } from "../../types/users";
import { startPlatform, type ErrorBody, type Platform, type SignedInUser } from "../support/platform";
import { callAction, connectSocket } from "../support/sockets";

const PASSWORD = "correct horse battery";

/** `{"username":[[[…1…]]],"password":"x"}` nested `depth` deep, written by hand: JSON.stringify would overflow first. */
function deeplyNestedLogin(depth: number): string {
	return `{"username":${"[".repeat(depth)}1${"]".repeat(depth)},"password":"x"}`;
}

function bulkheadInFlight(broker: ServiceBroker, action: string): number {
	const snapshot = broker.metrics.getMetric("moleculer.request.bulkhead.inflight")?.snapshot() ?? [];
	const mine = (snapshot as unknown as { labels: { action: string }; value: number }[]).find((item) => item.labels.action === action);
	return mine?.value ?? 0;
}

async function timeOf(work: () => Promise<unknown>): Promise<number> {
	const started = Date.now();
	await work();
	return Date.now() - started;
}

describe("hostile input", () => {
	let platform: Platform;
	let amy: SignedInUser;
	let channel: ChannelView;

	beforeAll(async () => {
		platform = await startPlatform({ chat: {}, api: { rateLimitPerMinute: 100_000 } });
		await platform.client.signUp("root");
		amy = await platform.client.signUp("amy");
		channel = (await platform.client.post<{ channel: ChannelView }>("/api/v1/channels", { name: "general", type: "public" }, amy.accessToken)).body.channel;
	});
	afterAll(() => platform.broker.stop());

	it("answers bodies nested thousands deep with 400, and after hundreds of them a login answers as fast as before", async () => {
		const login = () => platform.client.post<TokenPair>("/api/v1/auth/login", { username: "amy", password: PASSWORD });
		const before = Math.max(...(await Promise.all([timeOf(login), timeOf(login), timeOf(login)])));

		const statuses: number[] = [];
		for (let wave = 0; wave < 15; wave++) {
			const answers = await Promise.all(
				Array.from({ length: 20 }, () => platform.client.request<ErrorBody>("POST", "/api/v1/auth/login", { rawBody: deeplyNestedLogin(5_000) })),
			);
			statuses.push(...answers.map((answer) => answer.status));
		}
		const after = await timeOf(async () => expect((await login()).status).toBe(200));

		expect(new Set(statuses)).toEqual(new Set([400]));
		expect(after).toBeLessThan(Math.max(1_000, before * 5));
		expect(bulkheadInFlight(platform.broker, "users.login")).toBe(0);
	});

	it("frees the bulkhead slot of a call whose validation throws, and answers it 422, not 500", async () => {
		let nested: unknown = 1;
		for (let i = 0; i < 20_000; i++) nested = [nested];

		for (let i = 0; i < 150; i++) {
			await expect(platform.broker.call("users.login", { username: nested, password: "x" })).rejects.toMatchObject({ code: 422 });
		}

		expect(bulkheadInFlight(platform.broker, "users.login")).toBe(0);
		expect(await platform.broker.call("users.login", { username: "amy", password: PASSWORD })).toMatchObject({ accessToken: expect.any(String) });
	});

	it("refuses socket calls nested thousands deep, and the socket goes on sending", async () => {
		const socket = await connectSocket(platform.client.baseUrl, amy.accessToken);
		try {
			let nested: unknown = "x";
			for (let i = 0; i < 3_000; i++) nested = { a: nested };

			await expect(callAction(socket, "chat.send", { channelId: channel.id, text: nested })).rejects.toMatchObject({ code: 400, type: "TOO_DEEP" });
			await expect(callAction(socket, "chat.send", { channelId: channel.id, text: "still here" })).resolves.toMatchObject({ message: { text: "still here" } });
		} finally {
			socket.close();
		}
	});

	it.each([
		["a prototype key", `{"username":"amy","password":"x","__proto__":{"admin":true}}`, "FORBIDDEN_KEY"],
		["a constructor key deep inside", `{"username":"amy","password":"x","extra":{"constructor":{"prototype":1}}}`, "FORBIDDEN_KEY"],
		["a lone surrogate", `{"username":"amy\\ud800","password":"x"}`, "MALFORMED_TEXT"],
	])("refuses a body with %s at parse time with 400", async (_case, rawBody, type) => {
		const answer = await platform.client.request<ErrorBody>("POST", "/api/v1/auth/login", { rawBody });

		expect(answer.status).toBe(400);
		expect(answer.body.type).toBe(type);
	});

	it("refuses message text with a lone surrogate", async () => {
		const answer = await platform.client.request<ErrorBody>("POST", `/api/v1/channels/${channel.id}/messages`, {
			rawBody: `{"text":"half a pair \\udc00"}`,
			token: amy.accessToken,
		});

		expect(answer.status).toBe(400);
		expect(answer.body.type).toBe("MALFORMED_TEXT");
	});

	it.each(["gzip", "deflate", "br"])("answers a plain body labelled Content-Encoding: %s with 400, not 500", async (encoding) => {
		const answer = await platform.client.request<ErrorBody>("POST", "/api/v1/auth/login", {
			rawBody: JSON.stringify({ username: "amy", password: PASSWORD }),
			headers: { "content-encoding": encoding },
		});

		expect(answer.status).toBe(400);
		expect(answer.body.type).toBe("INVALID_ENCODING");
	});

	it("counts requests refused before they were authenticated against the address", async () => {
		const limited = await startPlatform({ api: { rateLimitPerMinute: 3 } });
		try {
			const garbled = () => limited.client.request("POST", "/api/v1/auth/login", { rawBody: "{}", headers: { "content-encoding": "gzip" } });
			const statuses = [];
			for (let i = 0; i < 3; i++) statuses.push((await garbled()).status);

			const next = await limited.client.post("/api/v1/auth/login", { username: "amy", password: PASSWORD });

			expect(statuses).toEqual([400, 400, 400]);
			expect(next.status).toBe(429);
		} finally {
			await limited.broker.stop();
		}
	});

	it("takes the parameters of a write from its body only", async () => {
		const answer = await platform.client.request<ErrorBody>("POST", `/api/v1/auth/login?username=amy&password=${encodeURIComponent(PASSWORD)}`, {
			body: {},
		});

		expect(answer.status).toBe(400);
		expect(answer.body.type).toBe("QUERY_NOT_ALLOWED");
	});

	it("writes no query string of a request into the log, however the request ends", async () => {
		const logged: string[] = [];
		const keep = (...args: unknown[]) => void logged.push(args.map(String).join(" "));
		// Moleculer's console logger writes through console.*, which jest may or may not route to stdout.
		const captures = [
			jest.spyOn(console, "log").mockImplementation(keep),
			jest.spyOn(console, "info").mockImplementation(keep),
			jest.spyOn(console, "warn").mockImplementation(keep),
			jest.spyOn(console, "error").mockImplementation(keep),
		];
		const verbose = await startPlatform({ broker: { logger: { type: "Console", options: { level: "info", colors: false } } } });
		try {
			await verbose.client.request("POST", "/api/v1/auth/login?password=sekrit-in-url", { body: { username: "x", password: "y" } });
			await verbose.client.get("/api/v1/users?cursor=sekrit-cursor");
			await verbose.client.request("POST", "/api/v1/auth/register?token=sekrit-token", { rawBody: "{broken" });
		} finally {
			await verbose.broker.stop();
			for (const capture of captures) capture.mockRestore();
		}

		expect(logged.join("")).toContain("/api/v1/auth/login");
		expect(logged.join("")).not.toContain("sekrit");
	});

	it("sends security headers with every answer, and keeps a client's X-Request-ID only when it is plain", async () => {
		const plain = await platform.client.request("GET", "/api/v1/users/me", { token: amy.accessToken, headers: { "x-request-id": "app-42.7" } });
		const hostile = await platform.client.request("GET", "/api/v1/nowhere", { headers: { "x-request-id": "<script>alert(1)</script>" } });

		for (const answer of [plain, hostile]) {
			expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
			expect(answer.headers.get("x-frame-options")).toBe("DENY");
			expect(answer.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
			expect(answer.headers.get("referrer-policy")).toBe("no-referrer");
			expect(answer.headers.get("cache-control")).toBe("no-store");
		}
		expect(plain.headers.get("x-request-id")).toBe("app-42.7");
		expect(hostile.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
	});

	it.each([
		["a right-to-left override", "admin\u202Enimda"],
		["a zero-width space", "ad\u200Bmin"],
		["a byte-order mark inside", "ad\uFEFFmin"],
	])("refuses a display name with %s", async (_case, displayName) => {
		const answer = await platform.client.post<ErrorBody>("/api/v1/auth/register", {
			username: "spoofer",
			email: "spoofer@example.com",
			password: PASSWORD,
			displayName,
		});

		expect(answer.status).toBe(422);
		expect(answer.body.data).toEqual([expect.objectContaining({ field: "displayName" })]);
	});

	it("takes an emoji or a :shortcode: as a reaction, and nothing else", async () => {
		const { message } = (
			await platform.client.post<{ message: { id: number } }>(`/api/v1/channels/${channel.id}/messages`, { text: "react" }, amy.accessToken)
		).body;
		const react = (emoji: string) => platform.client.post<ErrorBody>(`/api/v1/messages/${message.id}/reactions`, { emoji }, amy.accessToken);

		for (const emoji of ["👍", "👍🏽", "🇫🇷", ":party_parrot:"]) expect((await react(emoji)).status).toBe(200);
		for (const emoji of ["<script>", "+1", "ok", "👍 and text"]) expect((await react(emoji)).status).toBe(422);
	});
});

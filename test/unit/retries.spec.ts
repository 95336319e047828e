import type { ChannelView, MessageView } from "../../types/chat";
import type { PublicUser, TokenPair } from "../../types/users";
import { LostAnswers } from "../support/lost-answers";
import { startPlatform, type ErrorBody, type Platform, type SignedInUser } from "../support/platform";

describe("retries only where a second run is harmless (the answer is lost after the action ran)", () => {
	const lost = new LostAnswers();
	let platform: Platform;
	let amy: SignedInUser;
	let channel: ChannelView;

	beforeAll(async () => {
		platform = await startPlatform({ chat: {}, broker: { middlewares: [lost.middleware] } });
		await platform.client.signUp("root");
		amy = await platform.client.signUp("amy");
		channel = (await platform.client.post<{ channel: ChannelView }>("/api/v1/channels", { name: "general", type: "public" }, amy.accessToken)).body.channel;
	});
	afterAll(() => platform.broker.stop());

	async function messagesWith(text: string): Promise<MessageView[]> {
		const page = await platform.client.get<{ items: MessageView[] }>(`/api/v1/channels/${channel.id}/messages?limit=100`, amy.accessToken);
		return page.body.items.filter((message) => message.text === text);
	}

	describe("users.refresh", () => {
		it("retries the rotation and answers the pair the lost answer carried: the user stays signed in", async () => {
			const session = await platform.client.login("amy");
			const runsBefore = lost.runsOf("users.refresh");
			lost.loseNextAnswer("users.refresh");

			const refreshed = await platform.client.post<TokenPair>("/api/v1/auth/refresh", { refreshToken: session.refreshToken });

			expect(refreshed.status).toBe(200);
			expect(lost.runsOf("users.refresh") - runsBefore).toBe(2);
			expect((await platform.client.get<PublicUser>("/api/v1/users/me", refreshed.body.accessToken)).status).toBe(200);
			// The family lives on: its next token rotates as usual.
			const next = await platform.client.post<TokenPair>("/api/v1/auth/refresh", { refreshToken: refreshed.body.refreshToken });
			expect(next.status).toBe(200);
			expect((await platform.client.get("/api/v1/users/me", next.body.accessToken)).status).toBe(200);
		});

		it("still takes a used token presented by another request for reuse, and signs the family out", async () => {
			const session = await platform.client.login("amy");
			const first = await platform.client.post<TokenPair>("/api/v1/auth/refresh", { refreshToken: session.refreshToken });

			const replay = await platform.client.post<ErrorBody>("/api/v1/auth/refresh", { refreshToken: session.refreshToken });

			expect(replay.status).toBe(401);
			expect(replay.body.type).toBe("REFRESH_TOKEN_REUSED");
			expect((await platform.client.post("/api/v1/auth/refresh", { refreshToken: first.body.refreshToken })).status).toBe(401);
		});

		it("gives the lost answer again to the same request id, which a client may send on its own retry", async () => {
			const session = await platform.client.login("amy");
			const headers = { "x-request-id": "sdk-refresh-7c1f" };
			const first = await platform.client.request<TokenPair>("POST", "/api/v1/auth/refresh", { body: { refreshToken: session.refreshToken }, headers });

			const again = await platform.client.request<TokenPair>("POST", "/api/v1/auth/refresh", { body: { refreshToken: session.refreshToken }, headers });

			expect(again.status).toBe(200);
			expect(again.body).toEqual(first.body);
		});
	});

	describe("chat.send", () => {
		it("does not repeat a send without clientMsgId: it answers 504 OUTCOME_UNKNOWN and the message exists once", async () => {
			const runsBefore = lost.runsOf("chat.send");
			lost.loseNextAnswer("chat.send");

			const answer = await platform.client.post<ErrorBody>(`/api/v1/channels/${channel.id}/messages`, { text: "sent once" }, amy.accessToken);

			expect(answer.status).toBe(504);
			expect(answer.body).toMatchObject({ type: "OUTCOME_UNKNOWN", message: expect.stringContaining("chat.send") });
			expect(lost.runsOf("chat.send") - runsBefore).toBe(1);
			expect(await messagesWith("sent once")).toHaveLength(1);
		});

		it("repeats a send with a clientMsgId, which answers the stored message: it exists once", async () => {
			lost.loseNextAnswer("chat.send");

			const answer = await platform.client.post<{ message: MessageView }>(
				`/api/v1/channels/${channel.id}/messages`,
				{ text: "keyed send", clientMsgId: "amy-1" },
				amy.accessToken,
			);

			expect(answer.status).toBeLessThan(300);
			expect(answer.body.message).toMatchObject({ text: "keyed send", clientMsgId: "amy-1" });
			expect(await messagesWith("keyed send")).toHaveLength(1);
		});
	});

	describe("users.register", () => {
		it("does not repeat a registration: 504 OUTCOME_UNKNOWN instead of 409 for the account it just made", async () => {
			lost.loseNextAnswer("users.register");

			const answer = await platform.client.register("newcomer");

			expect(answer.status).toBe(504);
			expect((answer.body as unknown as ErrorBody).type).toBe("OUTCOME_UNKNOWN");
			const session = await platform.client.login("newcomer");
			const directory = await platform.client.get<{ items: PublicUser[] }>("/api/v1/users?limit=100", session.accessToken);
			expect(directory.body.items.filter((user) => user.username === "newcomer")).toHaveLength(1);
		});
	});

	it("retries reads, which are idempotent", async () => {
		const runsBefore = lost.runsOf("users.me");
		lost.loseNextAnswer("users.me");

		const me = await platform.client.get<PublicUser>("/api/v1/users/me", amy.accessToken);

		expect(me.status).toBe(200);
		expect(lost.runsOf("users.me") - runsBefore).toBe(2);
	});
});

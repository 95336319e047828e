import type { ServiceBroker } from "moleculer";
import type { Socket } from "socket.io-client";
import { AccessTokens } from "../../lib/auth/tokens";
import type { ChannelView, MessageView } from "../../types/chat";
import { RestClient, startPlatform } from "../support/platform";
import { callAction as call, connected, openSocket as open } from "../support/sockets";
import { until } from "../support/waiting";

interface ConnectRefusal {
	message: string;
	data?: { type: string; code: number };
}

function refusal(socket: Socket): Promise<ConnectRefusal> {
	return new Promise((resolve, reject) => {
		socket.once("connect", () => reject(new Error("the socket was let in")));
		socket.once("connect_error", (err) => resolve(err as unknown as ConnectRefusal));
	});
}

function renew<T>(socket: Socket, token: string): Promise<T> {
	return new Promise((resolve, reject) => {
		socket.timeout(5_000).emit("auth.refresh", token, (timeout: Error | null, err: unknown, result: T) => {
			if (timeout) reject(timeout);
			else if (err) reject(err);
			else resolve(result);
		});
	});
}

function next<T>(socket: Socket, event: string): Promise<T> {
	return new Promise((resolve) => socket.once(event, resolve));
}

describe("socket gateway", () => {
	let broker: ServiceBroker;
	let url: string;
	let rest: RestClient;
	const tokens: Record<string, string> = {};
	const ids: Record<string, number> = {};
	const sockets: Socket[] = [];

	function track(socket: Socket): Socket {
		sockets.push(socket);
		return socket;
	}

	beforeAll(async () => {
		({ broker, client: rest } = await startPlatform({ chat: {} }));
		url = rest.baseUrl;
		for (const name of ["admin", "amy", "bob", "gus"]) {
			ids[name] = (await rest.register(name)).body.user.id;
			tokens[name] = (await rest.login(name)).accessToken;
		}
	});

	afterAll(async () => {
		for (const socket of sockets) socket.close();
		await broker.stop();
	});

	describe("connecting", () => {
		it("refuses a socket without a token and says how to connect", async () => {
			const err = await refusal(track(open(url)));
			expect(err.data).toEqual({ type: "NO_TOKEN", code: 401 });
			expect(err.message).toMatch(/auth: \{ token/);
		});

		it("refuses a bad token and an expired token with the reason", async () => {
			expect((await refusal(track(open(url, "not-a-token")))).data?.type).toBe("INVALID_TOKEN");
			const expired = new AccessTokens(process.env.JWT_SECRET!).sign(ids.amy, "a-session", -30).token;
			const err = await refusal(track(open(url, expired)));
			expect(err).toMatchObject({ message: "Access token has expired", data: { type: "TOKEN_EXPIRED", code: 401 } });
		});
	});

	describe("calling actions", () => {
		let amy: Socket;
		let bob: Socket;
		let general: ChannelView;

		beforeAll(async () => {
			general = (await rest.post<{ channel: ChannelView }>("/api/v1/channels", { name: "general", type: "public" }, tokens.amy)).body.channel;
			amy = await connected(track(open(url, tokens.amy)));
			bob = await connected(track(open(url, tokens.bob)));
		});

		it("refuses actions not published to sockets: REST-only, internal and Moleculer's own", async () => {
			for (const [action, params] of [
				["users.setRoles", { id: ids.amy, roles: ["admin"] }],
				["users.resolveToken", { token: tokens.amy }],
				["$node.list", {}],
				["api.call", {}],
			] as const) {
				await expect(call(amy, action, params)).rejects.toMatchObject({ code: 404, type: "NOT_FOUND" });
			}
		});

		it("lets a socket call the actions that declare `socket`, under their REST access rule", async () => {
			const me = await call<{ id: number }>(amy, "users.me");

			expect(me.id).toBe(ids.amy);
		});

		it("answers bad parameters like REST does: the fields and reasons, never the rejected values", async () => {
			const { message } = await call<{ message: MessageView }>(amy, "chat.send", { channelId: general.id, text: "react to me" });
			const err = await call(amy, "chat.react", { id: message.id, emoji: "leaked\u0007" }).catch((e: unknown) => e);
			expect(err).toMatchObject({ code: 422, type: "VALIDATION_ERROR", data: [{ field: "emoji", type: "stringPattern" }] });
			expect(JSON.stringify(err)).not.toContain("leaked");
		});

		it("drops a socket when its access token expires, saying why, after warning it to renew", async () => {
			const shortLived = new AccessTokens(process.env.JWT_SECRET!).sign(ids.amy, "a-session", 2).token;
			const socket = await connected(track(open(url, shortLived)));
			const warned = next<{ inMs: number }>(socket, "session.expiring");
			const ended = next<{ type: string }>(socket, "session.ended");

			expect((await warned).inMs).toBeLessThanOrEqual(1_000);
			expect(await ended).toMatchObject({ type: "TOKEN_EXPIRED" });
			await new Promise((r) => setTimeout(r, 100));
			expect(socket.connected).toBe(false);
		});

		it("keeps a socket whose token is renewed over auth.refresh before it expires", async () => {
			const session = await rest.login("amy");
			const signer = new AccessTokens(process.env.JWT_SECRET!);
			const claims = signer.verify(session.accessToken);
			const socket = await connected(track(open(url, signer.sign(ids.amy, claims.sessionId, 1).token)));

			const renewed = await renew<{ expiresAt: number }>(socket, session.accessToken);
			await new Promise((r) => setTimeout(r, 1_500));

			expect(renewed.expiresAt).toBe(claims.exp);
			expect(socket.connected).toBe(true);
			expect(await call(socket, "chat.unread")).toMatchObject({ items: expect.any(Array) });
		});

		it("refuses to renew a socket with another user's token", async () => {
			const socket = await connected(track(open(url, tokens.amy)));

			await expect(renew(socket, tokens.bob)).rejects.toMatchObject({ code: 401, type: "INVALID_TOKEN" });
			expect((await call<{ id: number }>(socket, "users.me")).id).toBe(ids.amy);
		});

		it("puts a socket into the room of a channel it joins, at once", async () => {
			const joined = call(bob, "chat.join", { id: general.id });
			await joined;
			const arrival = next<MessageView>(bob, "chat.message");
			await call(amy, "chat.send", { channelId: general.id, text: "welcome bob" });
			expect((await arrival).text).toBe("welcome bob");
		});

		it("pushes a retried send again with the same id, for receivers that missed the first push", async () => {
			const seen: MessageView[] = [];
			const listener = (message: MessageView) => seen.push(message);
			bob.on("chat.message", listener);
			const first = await call<{ message: MessageView }>(amy, "chat.send", { channelId: general.id, text: "retry me", clientMsgId: "amy-r1" });
			const retry = await call<{ message: MessageView }>(amy, "chat.send", { channelId: general.id, text: "retry me", clientMsgId: "amy-r1" });
			for (let i = 0; i < 50 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
			bob.off("chat.message", listener);
			expect(retry.message.id).toBe(first.message.id);
			expect(seen.map((m) => m.id)).toEqual([first.message.id, first.message.id]);
		});

		it("shows typing to the others in the channel, at most every 2 seconds per channel", async () => {
			const seen = next<{ userId: number; channelId: number }>(bob, "chat.typing");
			let amySawOwnTyping = false;
			amy.once("chat.typing", () => (amySawOwnTyping = true));
			await call(amy, "chat.typing", { channelId: general.id });
			expect(await seen).toMatchObject({ userId: ids.amy, channelId: general.id });
			await expect(call(amy, "chat.typing", { channelId: general.id })).rejects.toMatchObject({ type: "THROTTLED", code: 429 });
			expect(amySawOwnTyping).toBe(false);
		});

		it("pushes edits, reactions and deletions to the channel", async () => {
			const { message } = await call<{ message: MessageView }>(amy, "chat.send", { channelId: general.id, text: "draft" });
			const updated = next<MessageView>(bob, "chat.message.updated");
			await call(amy, "chat.edit", { id: message.id, text: "final" });
			expect((await updated).text).toBe("final");
			const reacted = next<MessageView>(bob, "chat.message.updated");
			await call(bob, "chat.react", { id: message.id, emoji: "🎉" });
			expect((await reacted).reactions).toEqual([{ emoji: "🎉", count: 1, userIds: [ids.bob] }]);
			const deleted = next<MessageView>(bob, "chat.message.deleted");
			await call(amy, "chat.delete", { id: message.id });
			expect(await deleted).toMatchObject({ id: message.id, text: null });
		});
	});

	describe("presence", () => {
		it("shows a user online while a socket is connected, away when they say so, offline after", async () => {
			const status = async () =>
				(await rest.get<{ items: { userId: number; status: string }[] }>(`/api/v1/presence?ids=${ids.gus}`, tokens.amy)).body.items[0].status;
			expect(await status()).toBe("offline");
			const gus = await connected(open(url, tokens.gus));
			expect(await status()).toBe("online");
			await call(gus, "api.setPresence", { status: "away" });
			expect(await status()).toBe("away");
			gus.close();
			for (let i = 0; i < 50 && (await status()) !== "offline"; i++) await new Promise((r) => setTimeout(r, 20));
			expect(await status()).toBe("offline");
		});

		it("tells the people who share a channel with a user when they come and go, and nobody else", async () => {
			const names = ["pat", "kim", "lou"];
			for (const name of names) {
				ids[name] = (await rest.register(name)).body.user.id;
				tokens[name] = (await rest.login(name)).accessToken;
			}
			const channel = await rest.post<{ channel: { id: number } }>("/api/v1/channels", { name: "pat-and-kim", type: "private" }, tokens.pat);
			await rest.post(`/api/v1/channels/${channel.body.channel.id}/members`, { userId: ids.kim }, tokens.pat);
			const heard: Record<string, { userId: number; status: string }[]> = { kim: [], lou: [] };
			for (const name of ["kim", "lou"] as const) {
				const socket = track(await connected(open(url, tokens[name])));
				socket.on("presence", (change: { userId: number; status: string }) => heard[name].push(change));
			}

			const pat = track(await connected(open(url, tokens.pat)));
			pat.close();
			await until(() => heard.kim.some((change) => change.userId === ids.pat && change.status === "offline"), "kim hears pat leave", 5_000);

			expect(heard.kim.filter((change) => change.userId === ids.pat).map((change) => change.status)).toEqual(["online", "offline"]);
			expect(heard.lou.filter((change) => change.userId === ids.pat)).toEqual([]);
		});

		it("rejects a presence query that is not a list of ids", async () => {
			const answer = await rest.get(`/api/v1/presence?ids=1;DROP`, tokens.amy);
			expect(answer.status).toBe(422);
		});
	});

	it("limits one user's socket calls per minute across all their sockets", async () => {
		const { broker: limited, client } = await startPlatform({ chat: {}, api: { socketRateLimitPerMinute: 5 } });
		let first: Socket | undefined;
		let second: Socket | undefined;
		try {
			const limitedUrl = client.baseUrl;
			await client.register("zed");
			const { accessToken } = await client.login("zed");
			first = await connected(open(limitedUrl, accessToken));
			second = await connected(open(limitedUrl, accessToken));
			for (let i = 0; i < 5; i++) await call(i % 2 ? first : second, "chat.unread");
			await expect(call(second, "chat.unread")).rejects.toMatchObject({ code: 429, type: "RATE_LIMITED" });
			await expect(call(first, "chat.unread")).rejects.toMatchObject({ code: 429 });
		} finally {
			first?.close();
			second?.close();
			await limited.stop();
		}
	});

	it("disconnects every socket of a session that logs out, whatever its token's age, and only those", async () => {
		const signIn = await rest.login("bob");
		const elsewhere = (await rest.login("bob")).accessToken;
		const withFirstToken = await connected(track(open(url, signIn.accessToken)));
		// The session's next token, as the SDK renews it; the socket above still holds the first one.
		const refreshed = await rest.post<{ accessToken: string }>("/api/v1/auth/refresh", { refreshToken: signIn.refreshToken });
		const withSecondToken = await connected(track(open(url, refreshed.body.accessToken)));
		const staying = await connected(track(open(url, elsewhere)));
		const ended = [next<{ reason: string }>(withFirstToken, "session.ended"), next<{ reason: string }>(withSecondToken, "session.ended")];

		const logout = await rest.request("POST", "/api/v1/auth/logout", { token: refreshed.body.accessToken });

		expect(logout.status).toBe(204);
		expect(await Promise.all(ended)).toEqual([
			{ type: "SIGNED_OUT", reason: "Signed out" },
			{ type: "SIGNED_OUT", reason: "Signed out" },
		]);
		await new Promise((r) => setTimeout(r, 100));
		expect(withFirstToken.connected).toBe(false);
		expect(withSecondToken.connected).toBe(false);
		expect(staying.connected).toBe(true);
		// A socket opened with a token of the ended session is refused too.
		expect((await refusal(track(open(url, signIn.accessToken)))).data?.type).toBe("TOKEN_REVOKED");
	});

	it("applies a role change to open sockets at once: a demoted admin can no longer delete others' messages", async () => {
		const adminSession = await rest.login("admin");
		await rest.register("dora");
		const dora = await rest.login("dora");
		const doraId = (await rest.get<{ id: number }>("/api/v1/users/me", dora.accessToken)).body.id;
		await rest.patch(`/api/v1/users/${doraId}/roles`, { roles: ["admin"] }, adminSession.accessToken);
		const channel = (await rest.post<{ channel: ChannelView }>("/api/v1/channels", { name: "roles", type: "public" }, tokens.amy)).body.channel;
		const first = (await rest.post<{ message: MessageView }>(`/api/v1/channels/${channel.id}/messages`, { text: "one" }, tokens.amy)).body.message;
		const second = (await rest.post<{ message: MessageView }>(`/api/v1/channels/${channel.id}/messages`, { text: "two" }, tokens.amy)).body.message;
		const doras = await connected(track(open(url, dora.accessToken)));
		await call(doras, "chat.delete", { id: first.id });

		await rest.patch(`/api/v1/users/${doraId}/roles`, { roles: ["member"] }, adminSession.accessToken);

		await expect(call(doras, "chat.delete", { id: second.id })).rejects.toMatchObject({ code: 403 });
	});
});

import type { ServiceBroker } from "moleculer";
import type { Sequelize } from "sequelize";
import type { ChannelView, MessageView, UnreadView } from "../../types/chat";
import type { SessionUser } from "../../types/users";
import { chatService, testBroker, usersService } from "../support/platform";
import { refused } from "../support/waiting";

interface Problem {
	code: number;
	type: string;
}

describe("chat service", () => {
	let broker: ServiceBroker;
	const people: Record<string, SessionUser> = {};

	async function signIn(username: string): Promise<SessionUser> {
		await broker.call("users.register", { username, email: `${username}@example.com`, password: "correct horse battery" });
		const { accessToken } = await broker.call<{ accessToken: string }, object>("users.login", {
			username,
			password: "correct horse battery",
		});
		return broker.call<SessionUser, { token: string }>("users.resolveToken", { token: accessToken });
	}

	function as<T>(user: SessionUser, action: string, params: object = {}): Promise<T> {
		return broker.call<T, object>(action, params, { meta: { user } });
	}

	async function channel(owner: SessionUser, name: string, type: "public" | "private" = "public") {
		return (await as<{ channel: ChannelView }>(owner, "chat.createChannel", { name, type })).channel;
	}

	async function send(user: SessionUser, channelId: number, text: string, extra: object = {}) {
		return (await as<{ message: MessageView }>(user, "chat.send", { channelId, text, ...extra })).message;
	}

	beforeAll(async () => {
		broker = testBroker();
		broker.createService(usersService());
		broker.createService(chatService());
		await broker.start();
		for (const name of ["admin", "amy", "bob", "cat"]) people[name] = await signIn(name);
	});
	afterAll(() => broker.stop());

	describe("channels", () => {
		it("makes the creator the owner and refuses a second channel of the same name", async () => {
			const created = await channel(people.amy, "Design");
			expect(created).toMatchObject({ name: "design", type: "public", createdBy: people.amy.id });
			expect(await refused<Problem>(channel(people.bob, "design"))).toMatchObject({ code: 409, type: "CHANNEL_EXISTS" });
		});

		it("rejects names that are not lowercase words and unknown types", async () => {
			expect(await refused<Problem>(as(people.amy, "chat.createChannel", { name: "two words", type: "public" }))).toMatchObject({ code: 422 });
			expect(await refused<Problem>(as(people.amy, "chat.createChannel", { name: "x", type: "direct" }))).toMatchObject({ code: 422 });
		});

		it("lists public channels to everyone and private ones to their members only", async () => {
			const open = await channel(people.amy, "lobby");
			const hidden = await channel(people.amy, "board", "private");
			const bobSees = await as<{ items: (ChannelView & { member: boolean })[] }>(people.bob, "chat.listChannels");
			expect(bobSees.items.map((c) => c.id)).toContain(open.id);
			expect(bobSees.items.map((c) => c.id)).not.toContain(hidden.id);
			expect(bobSees.items.find((c) => c.id === open.id)?.member).toBe(false);

			await as(people.amy, "chat.addMember", { id: hidden.id, userId: people.bob.id });
			const afterInvite = await as<{ items: ChannelView[] }>(people.bob, "chat.listChannels");
			expect(afterInvite.items.map((c) => c.id)).toContain(hidden.id);
		});

		it("lets anyone join a public channel but nobody join a private one uninvited", async () => {
			const open = await channel(people.amy, "random");
			await as(people.cat, "chat.join", { id: open.id });
			expect((await send(people.cat, open.id, "hello")).text).toBe("hello");

			const closed = await channel(people.amy, "payroll", "private");
			expect(await refused<Problem>(as(people.cat, "chat.join", { id: closed.id }))).toMatchObject({ code: 403, type: "NOT_A_MEMBER" });
			expect(await refused<Problem>(as(people.cat, "chat.addMember", { id: closed.id, userId: people.cat.id }))).toMatchObject({ code: 403 });
			expect(await refused<Problem>(as(people.amy, "chat.addMember", { id: closed.id, userId: 9_999 }))).toMatchObject({ code: 404 });
			expect(await refused<Problem>(as(people.amy, "chat.join", { id: 9_999 }))).toMatchObject({ code: 404, type: "CHANNEL_NOT_FOUND" });
		});

		it("opens one direct conversation per pair, whoever opens it", async () => {
			const first = (await as<{ channel: ChannelView }>(people.amy, "chat.openDirect", { userId: people.bob.id })).channel;
			const again = (await as<{ channel: ChannelView }>(people.bob, "chat.openDirect", { userId: people.amy.id })).channel;
			expect(again.id).toBe(first.id);
			expect(first).toMatchObject({ type: "direct", name: null });
			expect(first.memberIds?.sort()).toEqual([people.amy.id, people.bob.id].sort());
			const listed = await as<{ items: ChannelView[] }>(people.bob, "chat.listChannels");
			expect(listed.items.find((c) => c.id === first.id)?.memberIds?.sort()).toEqual([people.amy.id, people.bob.id].sort());
			expect(await refused<Problem>(as(people.amy, "chat.addMember", { id: first.id, userId: people.cat.id }))).toMatchObject({
				type: "DIRECT_CHANNEL",
			});
			expect(await refused<Problem>(as(people.cat, "chat.history", { channelId: first.id }))).toMatchObject({ code: 403 });
			expect(await refused<Problem>(as(people.amy, "chat.openDirect", { userId: 9_999 }))).toMatchObject({ code: 404 });
		});
	});

	describe("messages", () => {
		let room: ChannelView;

		beforeAll(async () => {
			room = await channel(people.amy, "general");
			for (const name of ["bob", "cat"]) await as(people[name], "chat.join", { id: room.id });
		});

		it("refuses messages from non-members, empty ones and ones over 4,000 characters", async () => {
			const closed = await channel(people.amy, "closed", "private");
			expect(await refused<Problem>(send(people.bob, closed.id, "hi"))).toMatchObject({ code: 403, type: "NOT_A_MEMBER" });
			expect(await refused<Problem>(send(people.amy, room.id, "   "))).toMatchObject({ code: 422 });
			expect(await refused<Problem>(send(people.amy, room.id, "x".repeat(4_001)))).toMatchObject({ code: 422 });
			expect((await send(people.amy, room.id, "x".repeat(4_000))).text).toHaveLength(4_000);
		});

		it("never makes two messages of one clientMsgId, even when both sends race", async () => {
			const [a, b] = await Promise.all([
				send(people.bob, room.id, "only once", { clientMsgId: "bob-1" }),
				send(people.bob, room.id, "only once", { clientMsgId: "bob-1" }),
			]);
			const again = await send(people.bob, room.id, "only once", { clientMsgId: "bob-1" });
			expect(new Set([a.id, b.id, again.id]).size).toBe(1);
			const history = await as<{ items: MessageView[] }>(people.bob, "chat.history", { channelId: room.id, limit: 100 });
			expect(history.items.filter((m) => m.clientMsgId === "bob-1")).toHaveLength(1);
		});

		it("stores @mentions of existing users, not e-mail addresses", async () => {
			const message = await send(people.amy, room.id, "@bob and @Cat, mail me at amy@example.com or ping @nobody");
			expect(message.mentions.sort()).toEqual([people.bob.id, people.cat.id].sort());
		});

		it("pages history newest first with a cursor, and filters a thread", async () => {
			const thread = await channel(people.amy, "paging");
			const sent: MessageView[] = [];
			for (let i = 1; i <= 5; i++) sent.push(await send(people.amy, thread.id, `m${i}`));
			const reply = await send(people.amy, thread.id, "reply to m1", { parentId: sent[0].id });

			const first = await as<{ items: MessageView[]; nextCursor: string | null }>(people.amy, "chat.history", { channelId: thread.id, limit: 4 });
			expect(first.items.map((m) => m.text)).toEqual(["reply to m1", "m5", "m4", "m3"]);
			const second = await as<{ items: MessageView[]; nextCursor: string | null }>(people.amy, "chat.history", {
				channelId: thread.id,
				limit: 4,
				before: Number(first.nextCursor),
			});
			expect(second.items.map((m) => m.text)).toEqual(["m2", "m1"]);
			expect(second.nextCursor).toBeNull();

			const replies = await as<{ items: MessageView[] }>(people.amy, "chat.history", { channelId: thread.id, parentId: sent[0].id });
			expect(replies.items.map((m) => m.id)).toEqual([reply.id]);
			expect(await refused<Problem>(send(people.amy, room.id, "wrong thread", { parentId: sent[0].id }))).toMatchObject({ code: 404 });
		});

		it("lets only the author edit, and marks the message edited", async () => {
			const message = await send(people.bob, room.id, "tpyo");
			expect(await refused<Problem>(as(people.cat, "chat.edit", { id: message.id, text: "hacked" }))).toMatchObject({ code: 403, type: "NOT_AUTHOR" });
			const edited = (await as<{ message: MessageView }>(people.bob, "chat.edit", { id: message.id, text: "typo" })).message;
			expect(edited.text).toBe("typo");
			expect(edited.editedAt).not.toBeNull();
		});

		it("lets the author, the channel owner or an admin delete, leaving a tombstone", async () => {
			const byBob = [await send(people.bob, room.id, "one"), await send(people.bob, room.id, "two"), await send(people.bob, room.id, "three")];
			expect(await refused<Problem>(as(people.cat, "chat.delete", { id: byBob[0].id }))).toMatchObject({ code: 403 });
			const deleters = [people.bob, people.amy, people.admin];
			for (const [i, deleter] of deleters.entries()) {
				const { message } = await as<{ message: MessageView }>(deleter, "chat.delete", { id: byBob[i].id });
				expect(message).toMatchObject({ id: byBob[i].id, text: null });
				expect(message.deletedAt).not.toBeNull();
			}
			expect(await refused<Problem>(as(people.bob, "chat.edit", { id: byBob[0].id, text: "back" }))).toMatchObject({ code: 409 });
			const history = await as<{ items: MessageView[] }>(people.cat, "chat.history", { channelId: room.id, limit: 5 });
			expect(history.items.find((m) => m.id === byBob[2].id)).toMatchObject({ text: null });
		});

		it("toggles one reaction per user and emoji", async () => {
			const message = await send(people.amy, room.id, "lunch?");
			await as(people.bob, "chat.react", { id: message.id, emoji: "👍" });
			const both = (await as<{ message: MessageView }>(people.cat, "chat.react", { id: message.id, emoji: "👍" })).message;
			expect(both.reactions).toEqual([{ emoji: "👍", count: 2, userIds: [people.bob.id, people.cat.id] }]);
			const undone = (await as<{ message: MessageView }>(people.bob, "chat.react", { id: message.id, emoji: "👍" })).message;
			expect(undone.reactions).toEqual([{ emoji: "👍", count: 1, userIds: [people.cat.id] }]);
		});

		it("counts unread messages and mentions after the read marker, which only moves forward", async () => {
			const quiet = await channel(people.amy, "quiet");
			await as(people.cat, "chat.join", { id: quiet.id });
			const unreadOf = async () =>
				(await as<{ items: UnreadView[] }>(people.cat, "chat.unread")).items.find((u) => u.channelId === quiet.id);

			const first = await send(people.amy, quiet.id, "hello @cat");
			const second = await send(people.amy, quiet.id, "are you there?");
			await send(people.cat, quiet.id, "my own message does not count");
			expect(await unreadOf()).toEqual({ channelId: quiet.id, unread: 0, mentions: 0 });

			const later = await send(people.amy, quiet.id, "@cat one more");
			expect(await unreadOf()).toEqual({ channelId: quiet.id, unread: 1, mentions: 1 });
			await as(people.cat, "chat.markRead", { channelId: quiet.id, messageId: first.id });
			expect(await unreadOf()).toEqual({ channelId: quiet.id, unread: 1, mentions: 1 });
			const answer = await as<{ items: UnreadView[] }>(people.cat, "chat.markRead", { channelId: quiet.id, messageId: later.id });
			expect(answer.items).toEqual([{ channelId: quiet.id, unread: 0, mentions: 0 }]);
			expect(await unreadOf()).toEqual({ channelId: quiet.id, unread: 0, mentions: 0 });
			expect(second.id).toBeLessThan(later.id);
		});

		it("stores only sealed bodies with the id of the key that sealed them", async () => {
			await send(people.amy, room.id, "the launch code is 1234");
			const chat = broker.getLocalService("chat") as unknown as { database: Sequelize };
			const [rows] = await chat.database.query("SELECT body, keyId FROM messages");
			const stored = rows as { body: string; keyId: string }[];
			expect(JSON.stringify(stored)).not.toContain("launch code");
			for (const row of stored) expect(row.body.startsWith(`v1.${row.keyId}.`)).toBe(true);
		});
	});
});

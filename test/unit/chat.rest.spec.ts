import type { ServiceBroker } from "moleculer";
import type { ChannelView, MessageView } from "../../types/chat";
import { RestClient, startPlatform } from "../support/platform";

describe("chat over REST", () => {
	let broker: ServiceBroker;
	let rest: RestClient;
	const tokens: Record<string, string> = {};

	beforeAll(async () => {
		({ broker, client: rest } = await startPlatform({ chat: {} }));
		for (const name of ["amy", "bob"]) {
			await rest.register(name);
			tokens[name] = (await rest.login(name)).accessToken;
		}
	});
	afterAll(() => broker.stop());

	it("answers a created channel with 201 and its Location, which can be read back", async () => {
		const created = await rest.post<{ channel: ChannelView }>("/api/v1/channels", { name: "general", type: "public" }, tokens.amy);
		expect(created.status).toBe(201);
		const location = created.headers.get("location");
		expect(location).toBe(`/api/v1/channels/${created.body.channel.id}`);
		const read = await rest.get<{ channel: ChannelView }>(location!, tokens.bob);
		expect(read.body.channel).toMatchObject({ name: "general", type: "public" });
	});

	it("answers a sent message with 201 and the message's Location", async () => {
		const { body } = await rest.post<{ channel: ChannelView }>("/api/v1/channels", { name: "notes", type: "public" }, tokens.amy);
		const sent = await rest.post<{ message: MessageView }>(`/api/v1/channels/${body.channel.id}/messages`, { text: "hi" }, tokens.amy);
		expect(sent.status).toBe(201);
		expect(sent.headers.get("location")).toBe(`/api/v1/messages/${sent.body.message.id}`);
	});

	it("keeps a private channel unreadable by id for outsiders, and still answers unread counts", async () => {
		const { body } = await rest.post<{ channel: ChannelView }>("/api/v1/channels", { name: "hidden", type: "private" }, tokens.amy);
		const peek = await rest.get(`/api/v1/channels/${body.channel.id}`, tokens.bob);
		expect(peek.status).toBe(403);
		const unread = await rest.get<{ items: { channelId: number }[] }>("/api/v1/channels/unread", tokens.amy);
		expect(unread.status).toBe(200);
		expect(unread.body.items.map((item) => item.channelId)).toContain(body.channel.id);
		expect((await rest.get("/api/v1/channels/abc", tokens.amy)).status).toBe(422);
	});

	it.each([
		["a login name with a NUL byte", "POST", "/api/v1/auth/login", { username: "amy\u0000", password: "whatever it is" }],
		["a channel topic with control characters", "POST", "/api/v1/channels", { name: "topical", type: "public", topic: "a\u0000b" }],
		["an emoji with a NUL byte", "POST", "/api/v1/messages/1/reactions", { emoji: "\u0000" }],
		["an id beyond the database's integers", "POST", "/api/v1/channels/1/read", { messageId: 1e30 }],
		["a channel id beyond the database's integers", "GET", "/api/v1/channels/99999999999/messages", undefined],
	])("answers %s with 422, never a 500", async (_case, method, path, body) => {
		const answer = await rest.request(method, path, { body, token: tokens.amy });
		expect(answer.status).toBe(422);
		expect(answer.body).toMatchObject({ type: "VALIDATION_ERROR" });
	});
});

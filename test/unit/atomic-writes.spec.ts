import type { ServiceBroker } from "moleculer";
import type { ChatTables } from "../../services/chat/tables";
import type { ChannelView, MessageView, UnreadView } from "../../types/chat";
import type { PublicUser } from "../../types/users";
import { startPlatform, type ErrorBody, type Platform, type SignedInUser } from "../support/platform";

function chatTables(broker: ServiceBroker): ChatTables {
	return (broker.getLocalService("chat") as unknown as { tables: ChatTables }).tables;
}

/** Makes the next write of this kind on a table fail, as a crash or a lost connection at that point would. */
function failNext(table: object, write: "bulkCreate" | "destroy"): void {
	const writes = table as Record<"bulkCreate" | "destroy", () => Promise<unknown>>;
	jest.spyOn(writes, write).mockRejectedValueOnce(new Error("the database went away"));
}

describe("multi-row writes land whole or not at all", () => {
	let platform: Platform;
	let amy: SignedInUser;
	let bob: SignedInUser;
	let channel: ChannelView;

	beforeAll(async () => {
		platform = await startPlatform({ chat: {} });
		await platform.client.signUp("root");
		amy = await platform.client.signUp("amy");
		bob = await platform.client.signUp("bob");
		channel = (await platform.client.post<{ channel: ChannelView }>("/api/v1/channels", { name: "general", type: "public" }, amy.accessToken)).body.channel;
		await platform.client.post(`/api/v1/channels/${channel.id}/join`, {}, bob.accessToken);
	});
	afterAll(() => platform.broker.stop());

	const history = async () =>
		(await platform.client.get<{ items: MessageView[] }>(`/api/v1/channels/${channel.id}/messages`, amy.accessToken)).body.items;
	const unreadOf = async (user: SignedInUser) =>
		(await platform.client.get<{ items: UnreadView[] }>("/api/v1/channels/unread", user.accessToken)).body.items.find((item) => item.channelId === channel.id);

	it("stores no message whose mentions could not be stored, and moves no read marker", async () => {
		const before = await history();
		failNext(chatTables(platform.broker).mentions, "bulkCreate");

		const answer = await platform.client.post<ErrorBody>(`/api/v1/channels/${channel.id}/messages`, { text: "hi @bob" }, amy.accessToken);

		expect(answer.status).toBe(500);
		expect(await history()).toEqual(before);
		expect(await unreadOf(bob)).toMatchObject({ unread: 0, mentions: 0 });
	});

	it("keeps the old text and mentions of an edit whose new mentions could not be stored", async () => {
		const sent = (await platform.client.post<{ message: MessageView }>(`/api/v1/channels/${channel.id}/messages`, { text: "ping @bob" }, amy.accessToken)).body.message;
		failNext(chatTables(platform.broker).mentions, "bulkCreate");

		const answer = await platform.client.patch(`/api/v1/messages/${sent.id}`, { text: "never mind, @amy" }, amy.accessToken);

		expect(answer.status).toBe(500);
		const [stored] = (await history()).filter((message) => message.id === sent.id);
		expect(stored).toMatchObject({ text: "ping @bob", mentions: [bob.id], editedAt: null });
		expect(await unreadOf(bob)).toMatchObject({ mentions: 1 });
	});

	it("keeps a message whose deletion failed half way", async () => {
		const sent = (await platform.client.post<{ message: MessageView }>(`/api/v1/channels/${channel.id}/messages`, { text: "keep me" }, amy.accessToken)).body.message;
		await platform.client.post(`/api/v1/messages/${sent.id}/reactions`, { emoji: "👍" }, bob.accessToken);
		failNext(chatTables(platform.broker).reactions, "destroy");

		const answer = await platform.client.request("DELETE", `/api/v1/messages/${sent.id}`, { token: amy.accessToken });

		expect(answer.status).toBe(500);
		const [stored] = (await history()).filter((message) => message.id === sent.id);
		expect(stored).toMatchObject({ text: "keep me", deletedAt: null, reactions: [{ emoji: "👍", count: 1 }] });
	});
});

describe("role changes judged under a lock", () => {
	it("leaves one admin when two admins demote each other at the same moment", async () => {
		const { broker, client } = await startPlatform();
		try {
			const ada = await client.signUp("ada");
			const max = await client.signUp("max");
			await client.patch(`/api/v1/users/${max.id}/roles`, { roles: ["admin"] }, ada.accessToken);

			const answers = await Promise.all([
				client.patch<ErrorBody>(`/api/v1/users/${max.id}/roles`, { roles: ["member"] }, ada.accessToken),
				client.patch<ErrorBody>(`/api/v1/users/${ada.id}/roles`, { roles: ["member"] }, max.accessToken),
			]);

			expect(answers.map((answer) => answer.status).sort()).toEqual([200, 403]);
			const directory = await client.get<{ items: PublicUser[] }>("/api/v1/users", ada.accessToken);
			const admins = (directory.status === 200 ? directory : await client.get<{ items: PublicUser[] }>("/api/v1/users", max.accessToken)).body.items.filter(
				(user) => user.roles.includes("admin"),
			);
			expect(admins).toHaveLength(1);
		} finally {
			await broker.stop();
		}
	});

	it("makes exactly one admin of the first registrations, however they race", async () => {
		const { broker, client } = await startPlatform();
		try {
			const answers = await Promise.all(["one", "two", "three"].map((name) => client.register(name)));

			expect(answers.map((answer) => answer.status)).toEqual([201, 201, 201]);
			expect(answers.filter((answer) => answer.body.user.roles.includes("admin"))).toHaveLength(1);
		} finally {
			await broker.stop();
		}
	});
});

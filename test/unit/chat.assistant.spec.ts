import type { Socket } from "socket.io-client";
import { DEFAULT_ASSISTANT_SETTINGS, type ChatAssistant } from "../../services/chat/assistant";
import type { AiDeltaEvent, AiDoneEvent, ChannelView, MessageView } from "../../types/chat";
import type { PublicUser } from "../../types/users";
import { OllamaTestServer } from "../support/ollama-server";
import { startPlatform, type Platform, type SignedInUser } from "../support/platform";
import { connectSocket } from "../support/sockets";
import { until } from "../support/waiting";

const FAST_RETRIES = { ...DEFAULT_ASSISTANT_SETTINGS, retryDelaysMs: [20, 20], idleTimeoutMs: 3_000 };

interface Answer {
	deltas: AiDeltaEvent[];
	done: AiDoneEvent;
}

/** Everything the socket hears about the answer to `replyTo`, up to its `ai.done`. */
function answerTo(socket: Socket, replyTo: () => number, timeoutMs = 10_000): Promise<Answer> {
	const deltas: AiDeltaEvent[] = [];
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`no ai.done within ${timeoutMs} ms`)), timeoutMs);
		const onDelta = (delta: AiDeltaEvent) => {
			if (delta.replyTo === replyTo()) deltas.push(delta);
		};
		const onDone = (done: AiDoneEvent) => {
			if (done.replyTo !== replyTo()) return;
			clearTimeout(timer);
			socket.off("ai.delta", onDelta);
			socket.off("ai.done", onDone);
			resolve({ deltas, done });
		};
		socket.on("ai.delta", onDelta);
		socket.on("ai.done", onDone);
	});
}


describe("the chat assistant", () => {
	let ollama: OllamaTestServer;
	let platform: Platform;
	let admin: SignedInUser;
	let amy: SignedInUser;
	let bob: SignedInUser;
	let assistant: PublicUser;
	let channel: ChannelView;
	let bobSocket: Socket;

	async function post(user: SignedInUser, channelId: number, text: string, parentId?: number): Promise<MessageView> {
		const answer = await platform.client.post<{ message: MessageView }>(`/api/v1/channels/${channelId}/messages`, { text, ...(parentId ? { parentId } : {}) }, user.accessToken);
		expect(answer.status).toBe(201);
		return answer.body.message;
	}

	async function history(channelId: number, query = ""): Promise<MessageView[]> {
		return (await platform.client.get<{ items: MessageView[] }>(`/api/v1/channels/${channelId}/messages${query}`, amy.accessToken)).body.items;
	}

	beforeAll(async () => {
		ollama = await OllamaTestServer.start({ latencyMs: 5, tokenIntervalMs: 2 });
		platform = await startPlatform({ chat: { assistant: FAST_RETRIES }, ai: { ollamaHost: ollama.url }, api: { rateLimitPerMinute: 10_000 } });
		admin = await platform.client.signUp("root");
		amy = await platform.client.signUp("amy");
		bob = await platform.client.signUp("bob");
		const people = await platform.client.get<{ items: PublicUser[] }>("/api/v1/users", amy.accessToken);
		assistant = people.body.items.find((user) => user.assistant)!;
		channel = (await platform.client.post<{ channel: ChannelView }>("/api/v1/channels", { name: "ants", type: "public" }, amy.accessToken)).body.channel;
		await platform.client.post(`/api/v1/channels/${channel.id}/join`, {}, bob.accessToken);
		bobSocket = await connectSocket(platform.client.baseUrl, bob.accessToken);
	});
	afterEach(() => ollama.reset());
	afterAll(async () => {
		bobSocket.close();
		await platform.broker.stop();
		await ollama.stop();
	});

	it("has an account of its own that people can find and mention as @ai", () => {
		expect(assistant).toMatchObject({ username: "ai", displayName: "Colony AI", roles: [] });
		expect(assistant.email).toBeUndefined();
	});

	it("answers an @ai mention: the pieces stream to the channel's sockets, then the whole answer is stored as its message", async () => {
		let asked = 0;
		const heard = answerTo(bobSocket, () => asked);
		const question = await post(amy, channel.id, "@ai what do ants eat?");
		asked = question.id;
		const { deltas, done } = await heard;

		expect(deltas.length).toBeGreaterThan(1);
		expect(deltas.every((delta) => delta.channelId === channel.id && delta.attempt === 1)).toBe(true);
		expect(done.message).toMatchObject({ channelId: channel.id, userId: assistant.id, parentId: null });
		expect(deltas.map((delta) => delta.delta).join("")).toBe(done.message.text);
		expect(done.message.text).toMatch(/\w/);
		const stored = (await history(channel.id)).find((message) => message.id === done.message.id);
		expect(stored?.text).toBe(done.message.text);
		// The model was asked in amy's name, with who said what.
		const sent = ollama.lastBody("/api/chat") as { messages: { role: string; content: string }[] };
		expect(sent.messages[0]).toMatchObject({ role: "system", content: expect.stringContaining("amy") });
		expect(sent.messages.at(-1)).toEqual({ role: "user", content: "amy: @ai what do ants eat?" });
	});

	it("reads the thread it is asked in, and answers in that thread", async () => {
		await post(bob, channel.id, "unrelated chatter on the main line");
		const root = await post(amy, channel.id, "The queen lays all the eggs.");
		await post(bob, channel.id, "Even in supercolonies?", root.id);
		let asked = 0;
		const heard = answerTo(bobSocket, () => asked);
		asked = (await post(amy, channel.id, "@ai is that right?", root.id)).id;
		const { done } = await heard;

		expect(done.message.parentId).toBe(root.id);
		const sent = ollama.lastBody("/api/chat") as { messages: { role: string; content: string }[] };
		expect(sent.messages.slice(1).map((message) => message.content)).toEqual([
			"amy: The queen lays all the eggs.",
			"bob: Even in supercolonies?",
			"amy: @ai is that right?",
		]);
	});

	it("answers every message of a direct conversation with it", async () => {
		const dm = (await platform.client.post<{ channel: ChannelView }>("/api/v1/dms", { userId: assistant.id }, amy.accessToken)).body.channel;
		const amySocket = await connectSocket(platform.client.baseUrl, amy.accessToken);
		try {
			let asked = 0;
			const heard = answerTo(amySocket, () => asked);
			asked = (await post(amy, dm.id, "Summarise our plans, please")).id;
			const { done } = await heard;

			expect(done.message).toMatchObject({ channelId: dm.id, userId: assistant.id });
			expect((await history(dm.id)).map((message) => message.userId)).toEqual([assistant.id, amy.id]);
		} finally {
			amySocket.close();
		}
	});

	it("stays out of messages that do not ask it", async () => {
		const before = ollama.requestCount({ path: "/api/chat" });
		await post(amy, channel.id, "mail ai@example.com or ask @aide, not the assistant");
		await new Promise((resolve) => setTimeout(resolve, 300));

		expect(ollama.requestCount({ path: "/api/chat" })).toBe(before);
	});

	it("starts over on another try when the host fails mid-answer, and stores the whole second answer once", async () => {
		ollama.failNext(1, "stream-error", { path: "/api/chat", afterChunks: 2 });
		let asked = 0;
		const heard = answerTo(bobSocket, () => asked);
		asked = (await post(amy, channel.id, "@ai tell me about leafcutter ants")).id;
		const { deltas, done } = await heard;

		expect(deltas.some((delta) => delta.attempt === 1)).toBe(true);
		const retried = deltas.filter((delta) => delta.attempt === 2);
		expect(retried.map((delta) => delta.delta).join("")).toBe(done.message.text);
		expect((await history(channel.id)).filter((message) => message.userId === assistant.id && message.text === done.message.text)).toHaveLength(1);
	});

	it("answers a job that comes twice (a redelivery) only once", async () => {
		let asked = 0;
		const heard = answerTo(bobSocket, () => asked);
		const question = await post(amy, channel.id, "@ai how many legs does an ant have?");
		asked = question.id;
		await heard;
		const requests = ollama.requestCount({ path: "/api/chat" });
		const chat = platform.broker.getLocalService("chat") as unknown as { assistant: ChatAssistant };

		await chat.assistant.answer({ messageId: question.id, channelId: channel.id, requesterId: amy.id });

		expect(ollama.requestCount({ path: "/api/chat" })).toBe(requests);
		const replies = (await history(channel.id)).filter((message) => message.userId === assistant.id);
		expect(new Set(replies.map((message) => message.id)).size).toBe(replies.length);
		expect(replies.filter((message) => message.createdAt >= question.createdAt)).toHaveLength(1);
	});

	it("tells a requester past their AI limit so, in the channel, instead of staying silent", async () => {
		const policy = await platform.client.put("/api/v1/ai/policy", { role: "member", models: null, requestsPerMinute: 0, maxQueued: 10 }, admin.accessToken);
		expect(policy.status).toBe(200);
		try {
			let asked = 0;
			const heard = answerTo(bobSocket, () => asked);
			asked = (await post(amy, channel.id, "@ai one more question")).id;
			const { deltas, done } = await heard;

			expect(deltas).toEqual([]);
			expect(done.message.text).toMatch(/reached your AI request limit/);
		} finally {
			await platform.client.put("/api/v1/ai/policy", { role: "member", models: null, requestsPerMinute: 60, maxQueued: 10 }, admin.accessToken);
		}
	});
});

describe("the chat assistant with no AI host", () => {
	let platform: Platform;

	beforeAll(async () => {
		platform = await startPlatform({ chat: { assistant: FAST_RETRIES } });
	});
	afterAll(() => platform.broker.stop());

	it("says in the channel that the AI is unavailable, instead of silence", async () => {
		const amy = await platform.client.signUp("amy");
		const channel = (await platform.client.post<{ channel: ChannelView }>("/api/v1/channels", { name: "lonely", type: "public" }, amy.accessToken)).body.channel;
		const question = (await platform.client.post<{ message: MessageView }>(`/api/v1/channels/${channel.id}/messages`, { text: "@ai anyone there?" }, amy.accessToken)).body.message;

		let reply: MessageView | undefined;
		await until(async () => {
			const items = (await platform.client.get<{ items: MessageView[] }>(`/api/v1/channels/${channel.id}/messages`, amy.accessToken)).body.items;
			reply = items.find((message) => message.id > question.id);
			return reply !== undefined;
		}, "the assistant answers");

		expect(reply?.text).toMatch(/AI assistant is unavailable right now/);
	});
});

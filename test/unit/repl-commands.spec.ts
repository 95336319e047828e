import type { ServiceBroker } from "moleculer";
import type { Socket } from "socket.io-client";
import { aiHostsCommand } from "../../broker/repl/ai-hosts";
import { chatStatsCommand } from "../../broker/repl/chat-stats";
import { answerOf, toReplCommand } from "../../broker/repl/command";
import { COLONY_COMMANDS } from "../../broker/repl/commands";
import { grantCommand } from "../../broker/repl/grant";
import type { PublicUser } from "../../types/users";
import { OllamaTestServer } from "../support/ollama-server";
import { startPlatform, testBroker, usersService, type Platform, type SignedInUser } from "../support/platform";
import { callAction, connectSocket } from "../support/sockets";
import { until } from "../support/waiting";

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The value a two-column answer gives for `label` (labels are followed by at least two spaces). */
function valueOf(table: string, label: string): string | undefined {
	return new RegExp(`^${escaped(label)}\\s{2,}(.*)$`, "m").exec(table)?.[1];
}

/** The cells of the table row that starts with `first`. */
function rowOf(table: string, first: string): string[] | undefined {
	return table
		.split("\n")
		.find((line) => line.startsWith(`${first} `))
		?.split(/\s{2,}/);
}

describe("the REPL's operator commands on a running platform", () => {
	let ollama: OllamaTestServer;
	let platform: Platform;
	let broker: ServiceBroker;
	let admin: SignedInUser;
	const sockets: Socket[] = [];

	beforeAll(async () => {
		ollama = await OllamaTestServer.start({ loaded: ["llama3.2"], embeddingDimension: 64 });
		platform = await startPlatform({ chat: {}, ai: { ollamaHost: ollama.url, parallel: 3 } });
		broker = platform.broker;
		admin = await platform.client.signUp("root");
	});
	afterAll(async () => {
		for (const socket of sockets) socket.close();
		await platform.broker.stop();
		await ollama.stop();
	});

	it("registers ai-hosts, chat-stats and grant with moleculer-repl", () => {
		expect(COLONY_COMMANDS.map((command) => command.command)).toEqual(["ai-hosts", "chat-stats", "grant <user> <role>"]);
		expect(broker.options.replOptions?.customCommands?.map((command) => command.command)).toEqual(["ai-hosts", "chat-stats", "grant <user> <role>"]);
	});

	describe("ai-hosts", () => {
		it("shows each host: node, health, loaded models, GPU memory, requests in flight of its slots, and queued", async () => {
			const answer = await answerOf(aiHostsCommand, broker);

			expect(answer.split("\n")[0]).toMatch(/^node\s+healthy\s+loaded models\s+GPU memory used\/total\s+in flight\/slots\s+queued$/);
			const [node, healthy, loaded, gpuMemory, inFlight, queued] = rowOf(answer, broker.nodeID) ?? [];
			expect(node).toBe(broker.nodeID);
			expect(healthy).toBe("yes");
			expect(loaded).toMatch(/^llama3\.2:latest \(\d+\.\d GiB\)$/);
			// A GPU host has nvidia-smi; the test machine most likely has not.
			expect(gpuMemory).toMatch(/^(unknown \(no nvidia-smi\)|\d+\.\d GiB \/ \d+\.\d GiB)$/);
			expect(inFlight).toBe("0/3");
			expect(queued).toBe("0");
		});

		it("says why a host whose Ollama stopped answering is unhealthy", async () => {
			await ollama.down();
			try {
				await until(async () => (await answerOf(aiHostsCommand, broker)).includes(" no: "), "the host reports its Ollama down");
				expect(rowOf(await answerOf(aiHostsCommand, broker), broker.nodeID)?.[1]).toMatch(/^no: \S/);
			} finally {
				await ollama.up();
			}
			await until(async () => rowOf(await answerOf(aiHostsCommand, broker), broker.nodeID)?.[1] === "yes", "the host is back");
		});
	});

	describe("chat-stats", () => {
		it("counts channels by type, messages (not deleted ones) with the last hour and day, and members", async () => {
			const ann = await platform.client.signUp("ann");
			const channel = (await platform.client.post<{ channel: { id: number } }>("/api/v1/channels", { name: "general", type: "public" }, admin.accessToken)).body.channel;
			await platform.client.post("/api/v1/channels", { name: "staff", type: "private" }, admin.accessToken);
			await platform.client.post(`/api/v1/channels/${channel.id}/join`, {}, ann.accessToken);
			await platform.client.post("/api/v1/dms", { userId: ann.id }, admin.accessToken);
			for (const text of ["one", "two", "three"]) await platform.client.post(`/api/v1/channels/${channel.id}/messages`, { text }, ann.accessToken);
			const removed = (await platform.client.post<{ message: { id: number } }>(`/api/v1/channels/${channel.id}/messages`, { text: "oops" }, ann.accessToken)).body.message;
			await platform.client.request("DELETE", `/api/v1/messages/${removed.id}`, { token: ann.accessToken });

			const answer = await answerOf(chatStatsCommand, broker);

			expect(valueOf(answer, "channels")).toBe("3 (1 public, 1 private, 1 direct)");
			expect(valueOf(answer, "messages")).toBe("3");
			expect(valueOf(answer, "messages in the last hour")).toBe("3");
			expect(valueOf(answer, "messages in the last day")).toBe("3");
			// general: root and ann; staff: root; the direct channel: both.
			expect(valueOf(answer, "channel memberships")).toBe("5");
			expect(valueOf(answer, "people in channels")).toBe("2");
		});

		it("counts the sockets connected to each gateway and the people online", async () => {
			const ben = await platform.client.signUp("ben");
			const before = await answerOf(chatStatsCommand, broker);
			expect(valueOf(before, "connected sockets")).toBe(`0 (${broker.nodeID} 0)`);
			expect(valueOf(before, "online users")).toBe("0 (0 away)");

			sockets.push(await connectSocket(platform.client.baseUrl, admin.accessToken), await connectSocket(platform.client.baseUrl, ben.accessToken));
			sockets.push(await connectSocket(platform.client.baseUrl, ben.accessToken));
			await callAction(sockets[2], "api.setPresence", { status: "away" });

			await until(async () => valueOf(await answerOf(chatStatsCommand, broker), "online users") === "2 (1 away)", "both people are online");
			expect(valueOf(await answerOf(chatStatsCommand, broker), "connected sockets")).toBe(`3 (${broker.nodeID} 3)`);

			for (const socket of sockets.splice(0)) socket.close();
			await until(async () => valueOf(await answerOf(chatStatsCommand, broker), "online users") === "0 (0 away)", "both went offline");
			expect(valueOf(await answerOf(chatStatsCommand, broker), "connected sockets")).toBe(`0 (${broker.nodeID} 0)`);
		});

		it("is no internal action a client can reach", async () => {
			const answer = await platform.client.get("/api/v1/chat/stats", admin.accessToken);
			expect(answer.status).toBe(404);
			const socket = await connectSocket(platform.client.baseUrl, admin.accessToken);
			sockets.push(socket);
			await expect(callAction(socket, "chat.stats")).rejects.toMatchObject({ code: 404 });
			await expect(callAction(socket, "users.grantRole", { username: "root", role: "guest" })).rejects.toMatchObject({ code: 404 });
		});
	});

	describe("grant", () => {
		it("adds the role to the user's roles, shows them before and after, and logs who granted it", async () => {
			const cleo = await platform.client.signUp("cleo");
			const users = broker.getLocalService("users");
			if (!users) throw new Error("the users service runs on this broker");
			const logged = jest.spyOn(users.logger, "info");

			const answer = await answerOf(grantCommand, broker, { user: "Cleo", role: "admin" });

			expect(answer.split("\n")[0]).toBe("Granted the role 'admin' to cleo.");
			expect(rowOf(answer, String(cleo.id))).toEqual([String(cleo.id), "cleo", "member", "admin, member"]);
			const seen = await platform.client.get<PublicUser>(`/api/v1/users/${cleo.id}`, admin.accessToken);
			expect(seen.body.roles).toEqual(["admin", "member"]);
			expect(logged).toHaveBeenCalledWith(expect.stringMatching(new RegExp(`node ${escaped(broker.nodeID)} granted role 'admin' to cleo \\(user ${cleo.id}\\)`)));
			logged.mockRestore();
		});

		it("gives the new permissions on the user's next request, with the same token", async () => {
			const dan = await platform.client.signUp("dan");
			expect((await platform.client.get("/api/v1/ai/hosts", dan.accessToken)).status).toBe(403);

			await answerOf(grantCommand, broker, { user: "dan", role: "admin" });

			expect((await platform.client.get("/api/v1/ai/hosts", dan.accessToken)).status).toBe(200);
		});

		it("says so when the user already had the role, and changes nothing", async () => {
			const answer = await answerOf(grantCommand, broker, { user: "root", role: "admin" });

			expect(answer.split("\n")[0]).toBe("root already had the role 'admin'.");
			expect(rowOf(answer, String(admin.id))?.slice(2)).toEqual(["admin", "admin"]);
		});

		it("answers why it cannot: an unknown user, a role that does not exist, the assistant, missing arguments", async () => {
			expect(await answerOf(grantCommand, broker, { user: "nobody", role: "admin" })).toBe("grant failed: No user is named 'nobody' (USER_NOT_FOUND)");
			expect(await answerOf(grantCommand, broker, { user: "root", role: "boss" })).toBe("grant failed: 'boss' is not a role: the roles are admin, member, guest");
			expect(await answerOf(grantCommand, broker, { user: "ai", role: "admin" })).toBe("grant failed: The assistant's account has no roles to change (ASSISTANT_ACCOUNT)");
			expect(await answerOf(grantCommand, broker, { user: "root" })).toBe("grant failed: give a username and a role: grant <user> <role>");
		});

		it("prints its answer when moleculer-repl runs it with the parsed command line", async () => {
			await platform.client.signUp("eve");
			const printed = jest.spyOn(console, "log").mockImplementation(() => undefined);
			try {
				await toReplCommand(grantCommand).action(broker, { options: {}, rawCommand: "grant eve guest", user: "eve", role: "guest" });
				expect(printed).toHaveBeenCalledWith(expect.stringMatching(/^Granted the role 'guest' to eve\.\n/));
			} finally {
				printed.mockRestore();
			}
		});
	});
});

describe("the REPL's commands on a node without the services they need", () => {
	let broker: ServiceBroker;

	beforeAll(async () => {
		broker = testBroker();
		broker.createService(usersService());
		await broker.start();
	});
	afterAll(() => broker.stop());

	it("says there are no AI hosts", async () => {
		expect(await answerOf(aiHostsCommand, broker)).toBe("No AI hosts: no node of the cluster runs the ai service.");
	});

	it("says chat-stats has no chat service to ask", async () => {
		expect(await answerOf(chatStatsCommand, broker)).toMatch(/^chat-stats failed: .*chat\.stats.* \(SERVICE_NOT_FOUND\)$/);
	});
});

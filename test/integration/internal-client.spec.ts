import type { ServiceBroker } from "moleculer";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { chatStatsCommand } from "../../broker/repl/chat-stats";
import { answerOf } from "../../broker/repl/command";
import { grantCommand } from "../../broker/repl/grant";
import type { ChannelView } from "../../types/chat";
import type { PublicUser, SessionUser } from "../../types/users";
import { clearJetStreamNamespace, clearRedisNamespace, clusterBroker, TestDatabase, uniqueNamespace } from "../support/cluster";
import { describeIntegration } from "../support/integration";
import { chatService, usersService } from "../support/platform";
import { servers } from "../support/servers";

const CLIENT = resolve(__dirname, "../../dist/examples/internal-client.js");

/** Runs the built example client to its end: its exit code and everything it printed. */
function runClient(env: Record<string, string>, timeoutMs = 40_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
	return new Promise((done, fail) => {
		const child = spawn(process.execPath, [CLIENT], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ["ignore", "pipe", "pipe"] });
		let stdout = "";
		let stderr = "";
		child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
		child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
		const timer = setTimeout(() => {
			child.kill("SIGKILL");
			fail(new Error(`the client did not finish in ${timeoutMs} ms:\n${stdout}${stderr}`));
		}, timeoutMs);
		child.once("error", fail);
		child.once("exit", (code) => {
			clearTimeout(timer);
			done({ code, stdout, stderr });
		});
	});
}

describeIntegration("an internal client and the operator commands over NATS (users and chat nodes on MariaDB)", () => {
	const namespace = uniqueNamespace("it-client");
	const usersDb = new TestDatabase(`${namespace}-users`);
	const chatDb = new TestDatabase(`${namespace}-chat`);
	let nodes: ServiceBroker[] = [];
	let operator: ServiceBroker;

	beforeAll(async () => {
		if (!existsSync(CLIENT)) throw new Error(`${CLIENT} is missing: run 'npm run build' (npm test does) first`);
		await Promise.all([usersDb.create(), chatDb.create()]);
		nodes = [
			clusterBroker(namespace, "users-1", [usersService({ databaseUri: usersDb.uri })]),
			clusterBroker(namespace, "chat-1", [chatService({ databaseUri: chatDb.uri })]),
		];
		// The operator's node runs no services, as `npm run repl` does.
		operator = clusterBroker(namespace, "repl-1", []);
		await Promise.all([...nodes, operator].map((node) => node.start()));
		await operator.waitForServices(["users", "chat"], 15_000);

		const { user } = await operator.call<{ user: PublicUser }, object>("users.register", { username: "owner", email: "owner@example.com", password: "correct horse battery" });
		const caller = await operator.call<Omit<SessionUser, "tokenId" | "tokenExpiresAt" | "sessionId">, { id: number }>("users.session", { id: user.id });
		const meta = { user: { ...caller, tokenId: "test", tokenExpiresAt: 0, sessionId: "test" } };
		const { channel } = await operator.call<{ channel: ChannelView }, object>("chat.createChannel", { name: "general", type: "public" }, { meta });
		for (const text of ["hello", "world"]) await operator.call("chat.send", { channelId: channel.id, text }, { meta });
	});

	afterAll(async () => {
		await Promise.all([...nodes, operator].map((node) => node?.stop()));
		await Promise.all([usersDb.drop(), chatDb.drop()]);
		await Promise.all([clearRedisNamespace(namespace), clearJetStreamNamespace(namespace)]);
	});

	it("joins the cluster as a node of its own, prints what the services answer and exits 0", async () => {
		const { code, stdout, stderr } = await runClient({ TRANSPORTER: servers.nats, NAMESPACE: namespace, NODE_ID: "client-1", LOG_LEVEL: "warn" });

		expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
		expect(stdout).toMatch(/^assistant: @ai \(user \d+\)$/m);
		expect(stdout).toMatch(/^accounts: 1$/m);
		expect(stdout).toMatch(/^chat: 1 channels, 2 messages \(2 in the last hour\), 1 people in channels$/m);
		expect(stdout).toMatch(/^ai: no AI hosts$/m);
	});

	it("exits 1 with the reason when the services never come", async () => {
		const { code, stderr } = await runClient({ TRANSPORTER: servers.nats, NAMESPACE: `${namespace}-empty`, LOG_LEVEL: "warn", WAIT_FOR_SERVICES_MS: "1000" });

		expect(code).toBe(1);
		expect(stderr).toMatch(/^internal client failed: .*/m);
	});

	it("runs chat-stats and grant from a node without services", async () => {
		const stats = await answerOf(chatStatsCommand, operator);
		expect(stats).toMatch(/^channels\s{2,}1 \(1 public, 0 private, 0 direct\)$/m);
		expect(stats).toMatch(/^messages\s{2,}2$/m);
		expect(stats).toMatch(/^connected sockets\s{2,}none: no gateway is running$/m);

		await operator.call("users.register", { username: "helper", email: "helper@example.com", password: "correct horse battery" });
		expect(await answerOf(grantCommand, operator, { user: "helper", role: "guest" })).toMatch(/^Granted the role 'guest' to helper\.\n/);
	});
});

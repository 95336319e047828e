import type { ServiceBroker } from "moleculer";
import type { Socket } from "socket.io-client";
import { ManualClock } from "../../lib/clock";
import type { NotificationPage, NotificationView } from "../../types/notifications";
import type { ProjectView, TaskView } from "../../types/tasks";
import { clearJetStreamNamespace, clearRedisNamespace, clusterBroker, TestDatabase, uniqueNamespace } from "../support/cluster";
import { describeIntegration } from "../support/integration";
import { apiService, chatService, gatewayUrl, notificationsService, RestClient, usersService, type SignedInUser } from "../support/platform";
import { servers } from "../support/servers";
import { SmtpTestServer } from "../support/smtp-server";
import { connectSocket } from "../support/sockets";
import { createProject, createTask, tasksService } from "../support/tasks";
import { until } from "../support/waiting";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeIntegration("notifications on two nodes, two gateways and a real SMTP server (NATS with JetStream, MariaDB, Redis)", () => {
	const namespace = uniqueNamespace("it-notify");
	const databases = ["users", "chat", "tasks", "notifications"].map((name) => new TestDatabase(`${namespace}-${name}`));
	const [usersDb, chatDb, tasksDb, notificationsDb] = databases;
	// The notifications nodes read the time from here: quiet hours and digest windows pass when the test says.
	const clock = new ManualClock(Date.parse("2026-11-27T12:00:00Z"));
	const sockets: Socket[] = [];
	let smtp: SmtpTestServer;
	let nodes: ServiceBroker[] = [];
	let gatewayA: RestClient;
	let gatewayB: RestClient;
	let amy: SignedInUser;
	let project: ProjectView;

	const notificationsNodes = ["notifications-1", "notifications-2"];
	/** Both notifications nodes run their timer at once, as they would in production. */
	const tickBoth = () => Promise.all(notificationsNodes.filter((nodeID) => nodes.some((node) => node.nodeID === nodeID && node.started)).map((nodeID) => nodes[0].call("notifications.tick", {}, { nodeID })));
	const mailsTo = (user: SignedInUser) => smtp.to(`${user.username}@example.com`);
	const listFor = async (user: SignedInUser) => (await gatewayA.get<NotificationPage>("/api/v1/notifications", user.accessToken)).body;
	/** Every delivery job so far has run: nothing waits to be sent now, no send is under way. */
	const settled = () =>
		until(async () => {
			const [row] = await notificationsDb.rows(
				"SELECT (SELECT COUNT(*) FROM notifications WHERE state = 'pending' AND deliverAfter IS NULL) + (SELECT COUNT(*) FROM notification_deliveries WHERE status = 'sending') AS busy",
			);
			return Number(row.busy) === 0;
		}, "every delivery has run");

	const member = async (name: string) => {
		const user = await gatewayA.signUp(name);
		expect((await gatewayA.post(`/api/v1/projects/${project.id}/members`, { userId: user.id }, amy.accessToken)).status).toBe(200);
		return user;
	};

	beforeAll(async () => {
		await Promise.all(databases.map((db) => db.create()));
		smtp = await SmtpTestServer.start();
		const notifications = notificationsService({ databaseUri: notificationsDb.uri, smtpUrl: smtp.url, now: () => clock.now(), tickMs: 3_600_000, retryAfterMs: 60_000 });
		nodes = [
			clusterBroker(namespace, "users-1", [usersService({ databaseUri: usersDb.uri })]),
			// Sockets join their chat rooms as they connect: the chat node is part of any cluster with sockets.
			clusterBroker(namespace, "chat-1", [chatService({ databaseUri: chatDb.uri })]),
			clusterBroker(namespace, "tasks-1", [tasksService({ databaseUri: tasksDb.uri, triage: { enabled: false } })]),
			...notificationsNodes.map((nodeID) => clusterBroker(namespace, nodeID, [notifications])),
			clusterBroker(namespace, "gateway-a", [apiService({ redisUrl: servers.redis, rateLimitPerMinute: 1_000_000 })]),
			clusterBroker(namespace, "gateway-b", [apiService({ redisUrl: servers.redis, rateLimitPerMinute: 1_000_000 })]),
		];
		await Promise.all(nodes.map((node) => node.start()));
		await Promise.all(nodes.slice(5).map((node) => node.waitForServices(["users", "tasks", "notifications"], 15_000)));
		await until(() => (nodes[0].registry.getActionEndpoints("notifications.tick")?.endpoints.length ?? 0) === 2, "both notifications nodes are known", 15_000);
		gatewayA = new RestClient(gatewayUrl(nodes[5]));
		gatewayB = new RestClient(gatewayUrl(nodes[6]));
		await gatewayA.signUp("root");
		amy = await gatewayA.signUp("amy");
		project = await createProject(gatewayA, amy, { name: "Anthill" });
	});

	afterEach(async () => {
		for (const socket of sockets.splice(0)) socket.close();
		smtp.refusing = false;
	});

	afterAll(async () => {
		await Promise.all(nodes.map((node) => node.stop()));
		await smtp.stop();
		await Promise.all(databases.map((db) => db.drop()));
		await Promise.all([clearRedisNamespace(namespace), clearJetStreamNamespace(namespace)]);
	});

	it("brings an assignment made through gateway A to the assignee's socket on gateway B, and mails nobody who saw it", async () => {
		const bob = await member("bob");
		const socket = await connectSocket(gatewayB.baseUrl, bob.accessToken);
		sockets.push(socket);
		const heard: NotificationView[] = [];
		socket.on("notification", (notification: NotificationView) => heard.push(notification));

		const task = await createTask(gatewayA, amy, project.id, { title: "Carry the leaf", assigneeId: bob.id });

		await until(() => heard.length === 1, "the notification on bob's socket");
		expect(heard[0]).toMatchObject({ type: "assignment", title: "amy assigned you “Carry the leaf”", link: `/tasks/${task.id}`, readAt: null });
		await settled();
		await tickBoth();
		await pause(300);
		expect(heard).toHaveLength(1);
		expect(mailsTo(bob)).toEqual([]);
		expect((await listFor(bob)).unread).toBe(1);
	});

	it("mails an offline assignee exactly once, whichever notifications node took the event and however often both tick", async () => {
		const carol = await member("carol");
		await createTask(gatewayA, amy, project.id, { title: "Guard the queen", assigneeId: carol.id });

		await until(() => mailsTo(carol).length === 1, "carol's email");
		await settled();
		await Promise.all([tickBoth(), tickBoth(), tickBoth()]);
		await pause(300);
		expect(mailsTo(carol).map((mail) => mail.subject)).toEqual(["amy assigned you “Guard the queen”"]);
		expect(mailsTo(carol)[0].text).toContain("/tasks/");
		expect((await listFor(carol)).items).toHaveLength(1);
	});

	it("holds an assignment during the assignee's quiet hours in their time zone, and mails it once they end", async () => {
		const dave = await member("dave");
		clock.set("2026-11-27T14:30:00Z"); // 23:30 in Tokyo
		const quiet = await gatewayB.put("/api/v1/notifications/preferences", { timeZone: "Asia/Tokyo", quietHours: { start: "22:00", end: "07:00" } }, dave.accessToken);
		expect(quiet.status).toBe(200);

		await createTask(gatewayA, amy, project.id, { title: "Dig at dawn", assigneeId: dave.id });
		await until(async () => (await listFor(dave)).items.length === 1, "the notification is in dave's list");
		await settled();
		clock.set("2026-11-27T21:59:00Z"); // 06:59 in Tokyo
		await tickBoth();
		await settled();
		await pause(300);
		expect(mailsTo(dave)).toEqual([]);

		clock.set("2026-11-27T22:00:30Z"); // 07:00 in Tokyo
		await tickBoth();
		await until(() => mailsTo(dave).length === 1, "the email after the quiet hours");
		await settled();
		await tickBoth();
		await pause(300);
		expect(mailsTo(dave).map((mail) => mail.subject)).toEqual(["amy assigned you “Dig at dawn”"]);
	});

	it("gathers ten low-priority notifications of a window into one digest email, sent once by two ticking nodes", async () => {
		const erin = await member("erin");
		const task: TaskView = await createTask(gatewayA, amy, project.id, { title: "Map the tunnels" });
		expect((await gatewayB.post(`/api/v1/tasks/${task.id}/watch`, {}, erin.accessToken)).status).toBe(200);
		for (let i = 1; i <= 10; i++) {
			expect((await gatewayA.post(`/api/v1/tasks/${task.id}/comments`, { text: `Tunnel ${i} is mapped` }, amy.accessToken)).status).toBe(201);
		}
		await until(async () => (await listFor(erin)).items.length === 10, "ten notifications in erin's list");
		await settled();
		await tickBoth();
		await pause(300);
		expect(mailsTo(erin)).toEqual([]);

		clock.advance(61 * 60_000);
		await Promise.all([tickBoth(), tickBoth()]);
		await until(() => mailsTo(erin).length === 1, "the digest");
		await tickBoth();
		await pause(300);
		const [digest] = mailsTo(erin);
		expect(mailsTo(erin)).toHaveLength(1);
		expect(digest.subject).toBe("Colony: 10 updates for you");
		// No AI host in this cluster: a plain list, one line per notification.
		expect(digest.text.split("\n").filter((line) => line.startsWith("- "))).toHaveLength(10);
		expect(digest.text).toContain("Tunnel 10 is mapped");
	});

	it("keeps an email the mail server refused, and sends it once after a notifications node went away", async () => {
		const finn = await member("finn");
		smtp.refusing = true;
		await createTask(gatewayA, amy, project.id, { title: "Repair the wall", assigneeId: finn.id });
		await until(async () => Number((await notificationsDb.rows("SELECT COUNT(*) AS n FROM notification_deliveries WHERE status = 'failed'"))[0].n) === 1, "the refused attempt");
		await settled();

		const gone = nodes.find((node) => node.nodeID === "notifications-1")!;
		await gone.stop();
		smtp.refusing = false;
		clock.advance(61_000);
		await tickBoth();
		await until(() => mailsTo(finn).length === 1, "the email, from the node that is left");
		await settled();
		await tickBoth();
		await pause(300);
		expect(mailsTo(finn).map((mail) => mail.subject)).toEqual(["amy assigned you “Repair the wall”"]);
	});
});

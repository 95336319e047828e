import type { ServiceBroker } from "moleculer";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "socket.io-client";
import { Op } from "sequelize";
import { ManualClock } from "../../lib/clock";
import { quietUntil } from "../../lib/notify/quiet-hours";
import { isPublicPushEndpoint } from "../../lib/notify/web-push";
import type { NotificationsTables } from "../../services/notifications/tables";
import type { ChannelView, MessageView } from "../../types/chat";
import type { NotificationPage, NotificationPreferences, NotificationView } from "../../types/notifications";
import type { TaskView } from "../../types/tasks";
import { OllamaTestServer } from "../support/ollama-server";
import { startPlatform, type ErrorBody, type Platform, type SignedInUser } from "../support/platform";
import { SmtpTestServer } from "../support/smtp-server";
import { connectSocket } from "../support/sockets";
import { until } from "../support/waiting";

const HOUR = 3_600_000;

function task(id: number, title: string, version = 1): TaskView {
	const now = new Date().toISOString();
	return {
		id,
		projectId: 1,
		title,
		description: `About ${title}`,
		status: "todo",
		priority: "none",
		assigneeId: null,
		labels: [],
		dueDate: null,
		version,
		createdBy: 1,
		createdAt: now,
		updatedAt: now,
		triage: null,
	};
}

/** A Web Push service stand-in over HTTPS (web-push only speaks HTTPS), with a certificate made for the test. */
async function startPushService(answer: () => number): Promise<{ server: Server; url: string; received: { headers: Record<string, unknown>; bytes: number }[]; agent: Agent; dir: string }> {
	const dir = mkdtempSync(join(tmpdir(), "colony-push-"));
	execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
	const received: { headers: Record<string, unknown>; bytes: number }[] = [];
	const server = createServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) }, (req, res) => {
		let bytes = 0;
		req.on("data", (chunk: Buffer) => (bytes += chunk.length));
		req.on("end", () => {
			received.push({ headers: req.headers, bytes });
			res.statusCode = answer();
			res.end();
		});
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
	const { port } = server.address() as AddressInfo;
	const agent = new Agent({ ca: readFileSync(join(dir, "cert.pem")) });
	return { server, url: `https://127.0.0.1:${port}/push/`, received, agent, dir };
}

describe("notifications", () => {
	const clock = new ManualClock(Date.parse("2026-11-25T12:00:00Z"));
	let smtp: SmtpTestServer;
	let push: Awaited<ReturnType<typeof startPushService>>;
	let pushAnswer = 201;
	let platform: Platform;
	let broker: ServiceBroker;
	let amy: SignedInUser;
	let bob: SignedInUser;
	let channel: ChannelView;
	const sockets: Socket[] = [];

	const mailsToBob = () => smtp.to("bob@example.com");
	const listFor = async (user: SignedInUser, query = "") => (await platform.client.get<NotificationPage>(`/api/v1/notifications${query}`, user.accessToken)).body;
	const tick = () => broker.call("notifications.tick");
	const say = async (user: SignedInUser, text: string, channelId = channel.id) =>
		(await platform.client.post<{ message: MessageView }>(`/api/v1/channels/${channelId}/messages`, { text }, user.accessToken)).body.message;
	const preferences = (user: SignedInUser, body: object) => platform.client.put<NotificationPreferences & ErrorBody>("/api/v1/notifications/preferences", body, user.accessToken);

	beforeAll(async () => {
		smtp = await SmtpTestServer.start();
		push = await startPushService(() => pushAnswer);
		platform = await startPlatform({
			chat: {},
			notifications: { now: () => clock.now(), smtpUrl: smtp.url, tickMs: 3_600_000, retryAfterMs: 60_000, pushAgent: () => push.agent, appUrl: "https://colony.test" },
			api: { rateLimitPerMinute: 10_000 },
		});
		broker = platform.broker;
		amy = await platform.client.signUp("amy");
		bob = await platform.client.signUp("bob");
		channel = (await platform.client.post<{ channel: ChannelView }>("/api/v1/channels", { name: "ants", type: "public" }, amy.accessToken)).body.channel;
		await platform.client.post(`/api/v1/channels/${channel.id}/join`, {}, bob.accessToken);
	});
	/** Every delivery job of the test has run: nothing pending to send now, no send under way. */
	const settled = () =>
		until(async () => {
			const { tables } = broker.getLocalService("notifications") as unknown as { tables: NotificationsTables };
			const pending = await tables.notifications.count({ where: { state: "pending", deliverAfter: { [Op.is]: null } } });
			const sending = await tables.deliveries.count({ where: { status: "sending" } });
			return pending === 0 && sending === 0;
		}, "the deliveries of the test are done");

	afterEach(async () => {
		for (const socket of sockets.splice(0)) socket.close();
		await settled();
		// Back to defaults, nothing left waiting.
		await preferences(bob, { quietHours: null, timeZone: "UTC", digest: { enabled: true, windowMinutes: 60 }, channels: { mention: { inApp: true, email: true, push: true }, status_change: { inApp: true, email: true, push: true } } });
		clock.advance(24 * HOUR);
		await tick();
		await settled();
		smtp.received.length = 0;
		smtp.refusing = false;
		push.received.length = 0;
	});
	afterAll(async () => {
		await broker.stop();
		await smtp.stop();
		push.server.close();
		rmSync(push.dir, { recursive: true, force: true });
	});

	describe("what makes a notification", () => {
		it("tells a mentioned person who is offline by one email, and keeps it unread in the app", async () => {
			const message = await say(amy, "@bob can you look at the nest?");

			await until(() => mailsToBob().length === 1, "bob's email");
			expect(mailsToBob()[0]).toMatchObject({ subject: "amy mentioned you in #ants", text: expect.stringContaining("@bob can you look at the nest?") });
			expect(mailsToBob()[0].text).toContain(`https://colony.test/channels/${channel.id}?message=${message.id}`);
			const list = await listFor(bob);
			expect(list.unread).toBe(1);
			expect(list.items[0]).toMatchObject({ type: "mention", priority: "urgent", actorId: amy.id, readAt: null, link: `/channels/${channel.id}?message=${message.id}` });
		});

		it("pushes to the socket of a person who is connected, and sends no email then", async () => {
			const socket = await connectSocket(platform.client.baseUrl, bob.accessToken);
			sockets.push(socket);
			const heard = new Promise<NotificationView>((resolve) => socket.once("notification", resolve));

			await say(amy, "@bob the queen moved");
			const notification = await heard;

			expect(notification).toMatchObject({ type: "mention", title: "amy mentioned you in #ants", body: "@bob the queen moved" });
			await tick();
			expect(mailsToBob()).toEqual([]);
		});

		it("tells the other person of a direct message, never the sender, and never the assistant", async () => {
			const dm = (await platform.client.post<{ channel: ChannelView }>("/api/v1/dms", { userId: bob.id }, amy.accessToken)).body.channel;
			const before = (await listFor(amy)).items.length;

			await say(amy, "psst, a secret", dm.id);

			await until(() => mailsToBob().length === 1, "bob's email");
			expect(mailsToBob()[0].subject).toBe("amy sent you a message");
			expect((await listFor(amy)).items).toHaveLength(before);
		});

		it("makes one notification of an event that comes twice, and sends one email", async () => {
			const assigned = { task: task(7, "Fix the tunnel"), assigneeId: bob.id, previousAssigneeId: null, by: amy.id };
			await broker.emit("tasks.task.assigned", assigned);
			await broker.emit("tasks.task.assigned", assigned);

			await until(() => mailsToBob().length >= 1, "bob's email");
			await new Promise((resolve) => setTimeout(resolve, 200));
			expect(mailsToBob().map((mail) => mail.subject)).toEqual(["amy assigned you “Fix the tunnel”"]);
			expect((await listFor(bob)).items.filter((item) => item.type === "assignment" && item.title.includes("Fix the tunnel"))).toHaveLength(1);
		});

		it("tells the watchers of a task but not the one who changed it", async () => {
			await broker.emit("tasks.task.due_soon", { task: { ...task(8, "Ship the queen", 3), assigneeId: bob.id, dueDate: "2026-11-26T09:00:00.000Z" }, watcherIds: [amy.id, bob.id] });

			await until(() => mailsToBob().length === 1, "bob's email");
			expect(mailsToBob()[0].subject).toMatch(/^“Ship the queen” is due/);
			expect((await listFor(amy)).items.some((item) => item.title.includes("Ship the queen"))).toBe(false);
		});
	});

	describe("reading them", () => {
		it("lists newest first by cursor, counts unread, marks one and all read; others' are not found", async () => {
			for (let i = 0; i < 3; i++) await broker.emit("tasks.task.assigned", { task: task(100 + i, `Chore ${i}`), assigneeId: bob.id, previousAssigneeId: null, by: amy.id });
			await until(async () => (await listFor(bob)).items.filter((item) => item.title.includes("Chore")).length === 3, "three notifications");

			const first = await listFor(bob, "?limit=2");
			const second = await listFor(bob, `?limit=2&cursor=${first.nextCursor}`);
			expect(first.items.map((item) => item.id)).toEqual([...first.items.map((item) => item.id)].sort((a, b) => b - a));
			expect(second.items[0].id).toBeLessThan(first.items[1].id);

			const read = await platform.client.post<{ notification: NotificationView; unread: number }>(`/api/v1/notifications/${first.items[0].id}/read`, {}, bob.accessToken);
			expect(read.body.notification.readAt).not.toBeNull();
			expect(read.body.unread).toBe(first.unread - 1);
			expect((await listFor(bob, "?unread=true")).items.map((item) => item.id)).not.toContain(first.items[0].id);
			expect((await platform.client.post<ErrorBody>(`/api/v1/notifications/${first.items[0].id}/read`, {}, amy.accessToken)).status).toBe(404);

			await platform.client.post("/api/v1/notifications/read-all", {}, bob.accessToken);
			expect((await listFor(bob)).unread).toBe(0);
		});

		it("refuses a caller without a session, and a bad cursor", async () => {
			expect((await platform.client.get("/api/v1/notifications")).status).toBe(401);
			expect((await platform.client.get<ErrorBody>("/api/v1/notifications?cursor=abc", bob.accessToken)).status).toBe(422);
		});
	});

	describe("preferences", () => {
		it("starts with every type on every channel, and refuses what it cannot use with a reason", async () => {
			const defaults = (await platform.client.get<NotificationPreferences>("/api/v1/notifications/preferences", amy.accessToken)).body;
			expect(defaults).toMatchObject({ timeZone: "UTC", quietHours: null, digest: { enabled: true, windowMinutes: 60 }, channels: { mention: { inApp: true, email: true, push: true } } });

			expect((await preferences(amy, { timeZone: "Mars/Olympus" })).body).toMatchObject({ code: 422, data: [expect.objectContaining({ field: "timeZone" })] });
			expect((await preferences(amy, { quietHours: { start: "25:00", end: "07:00" } })).status).toBe(422);
			expect((await preferences(amy, { channels: { gossip: { email: true } } })).status).toBe(422);
			expect((await preferences(amy, { digest: { windowMinutes: 1 } })).status).toBe(422);
			expect((await preferences(amy, { digestWindowMinutes: 60 })).status).toBe(422);
		});

		it("keeps a type in the app only when its email is off, and drops it when the type is off", async () => {
			await preferences(bob, { channels: { mention: { email: false } } });
			await say(amy, "@bob quiet one");
			await until(async () => (await listFor(bob)).items.some((item) => item.body === "@bob quiet one"), "the notification");
			await tick();
			expect(mailsToBob()).toEqual([]);

			await preferences(bob, { channels: { mention: { inApp: false } } });
			await say(amy, "@bob not even in the app");
			await new Promise((resolve) => setTimeout(resolve, 200));
			expect((await listFor(bob)).items.some((item) => item.body === "@bob not even in the app")).toBe(false);
		});
	});

	describe("timing", () => {
		it("holds what comes in quiet hours, in the person's time zone, and delivers it once they end", async () => {
			clock.set("2026-11-27T22:30:00Z"); // 23:30 in Paris
			await preferences(bob, { timeZone: "Europe/Paris", quietHours: { start: "22:00", end: "07:00" } });

			await broker.emit("tasks.task.assigned", { task: task(200, "Night work"), assigneeId: bob.id, previousAssigneeId: null, by: amy.id });
			await until(async () => (await listFor(bob)).items.some((item) => item.title.includes("Night work")), "the notification is stored");
			await new Promise((resolve) => setTimeout(resolve, 100));
			clock.set("2026-11-28T05:59:00Z"); // 06:59 in Paris
			await tick();
			await new Promise((resolve) => setTimeout(resolve, 100));
			expect(mailsToBob()).toEqual([]);

			clock.set("2026-11-28T06:00:30Z"); // 07:00 in Paris
			await tick();
			await until(() => mailsToBob().length === 1, "the email after the quiet hours");
			await tick();
			await new Promise((resolve) => setTimeout(resolve, 100));
			expect(mailsToBob().map((mail) => mail.subject)).toEqual(["amy assigned you “Night work”"]);
		});

		it("gathers ten low-priority notifications of a window into one digest email, a plain list without an AI host", async () => {
			for (let i = 0; i < 10; i++) {
				await broker.emit("tasks.task.transitioned", { task: task(300 + i, `Tunnel ${i}`, 2), from: "todo", to: "done", by: amy.id, watcherIds: [bob.id, amy.id] });
			}
			await until(async () => (await listFor(bob)).items.filter((item) => item.title.includes("Tunnel")).length === 10, "ten notifications");
			await tick();
			expect(mailsToBob()).toEqual([]);

			clock.advance(30 * 60_000);
			await tick();
			expect(mailsToBob()).toEqual([]);
			clock.advance(31 * 60_000);
			await tick();
			await until(() => mailsToBob().length === 1, "the digest");
			await tick();

			const [digest] = mailsToBob();
			expect(mailsToBob()).toHaveLength(1);
			expect(digest.subject).toBe("Colony: 10 updates for you");
			for (let i = 0; i < 10; i++) expect(digest.text).toContain(`amy moved “Tunnel ${i}” to done`);
			expect(digest.text.split("\n")[0]).toMatch(/^- /);
		});

		it("mails each low-priority notification on its own for a person who switched the digest off", async () => {
			await preferences(bob, { digest: { enabled: false } });
			for (let i = 0; i < 2; i++) {
				await broker.emit("tasks.task.transitioned", { task: task(350 + i, `Alone ${i}`, 2), from: "todo", to: "done", by: amy.id, watcherIds: [bob.id] });
			}
			await until(() => mailsToBob().length === 2, "two emails");
			expect(mailsToBob().map((mail) => mail.subject).sort()).toEqual(["amy moved “Alone 0” to done", "amy moved “Alone 1” to done"]);
		});

		it("sends urgent ones at once even while a digest is gathering", async () => {
			await broker.emit("tasks.task.transitioned", { task: task(400, "Low one", 2), from: "todo", to: "done", by: amy.id, watcherIds: [bob.id] });
			await broker.emit("tasks.task.assigned", { task: task(401, "Urgent one"), assigneeId: bob.id, previousAssigneeId: null, by: amy.id });

			await until(() => mailsToBob().length === 1, "the urgent email");
			expect(mailsToBob()[0].subject).toBe("amy assigned you “Urgent one”");
		});
	});

	describe("delivery that fails", () => {
		it("tries a refused email again later and sends it once, with a stable Message-ID", async () => {
			smtp.refusing = true;
			await broker.emit("tasks.task.assigned", { task: task(500, "Retry me"), assigneeId: bob.id, previousAssigneeId: null, by: amy.id });
			await until(async () => (await listFor(bob)).items.some((item) => item.title.includes("Retry me")), "the notification is stored");
			await new Promise((resolve) => setTimeout(resolve, 300));
			expect(mailsToBob()).toEqual([]);

			smtp.refusing = false;
			clock.advance(61_000);
			await tick();
			await until(() => mailsToBob().length === 1, "the email on the second try");
			clock.advance(61_000);
			await tick();
			await new Promise((resolve) => setTimeout(resolve, 100));
			expect(mailsToBob()).toHaveLength(1);
			expect(mailsToBob()[0].messageId).toMatch(/^<notification-\d+\.test@colony>$/);
		});
	});

	describe("Web Push", () => {
		const keys = { p256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM", auth: "tBHItJI5svbpez7KI4CCXg" };

		it("gives its public key, and sends an offline person's urgent notification to their browser, VAPID-signed", async () => {
			const key = await platform.client.get<{ publicKey: string }>("/api/v1/notifications/push/key", bob.accessToken);
			expect(key.body.publicKey).toMatch(/^[A-Za-z0-9_-]{80,}$/);
			const subscribed = await platform.client.post("/api/v1/notifications/push/subscriptions", { endpoint: `${push.url}bob`, keys }, bob.accessToken);
			expect(subscribed.status).toBe(201);

			await broker.emit("tasks.task.assigned", { task: task(600, "Push me"), assigneeId: bob.id, previousAssigneeId: null, by: amy.id });

			await until(() => push.received.length === 1, "the push");
			expect(push.received[0].headers).toMatchObject({ "content-encoding": "aes128gcm", authorization: expect.stringMatching(/^vapid t=.+, k=.+/) });
			expect(push.received[0].bytes).toBeGreaterThan(0);
		});

		it("forgets a subscription the push service no longer knows (410)", async () => {
			pushAnswer = 410;
			try {
				await broker.emit("tasks.task.assigned", { task: task(601, "Gone"), assigneeId: bob.id, previousAssigneeId: null, by: amy.id });
				await until(() => push.received.length === 1, "the push attempt");
				await broker.emit("tasks.task.assigned", { task: task(602, "Gone again"), assigneeId: bob.id, previousAssigneeId: null, by: amy.id });
				await until(() => mailsToBob().length === 2, "both emails");
				expect(push.received).toHaveLength(1);
			} finally {
				pushAnswer = 201;
			}
		});

		it("keeps a person's ten newest browser subscriptions, so endless subscribing cannot multiply each delivery", async () => {
			for (let i = 0; i < 15; i++) {
				expect((await platform.client.post("/api/v1/notifications/push/subscriptions", { endpoint: `${push.url}amy-${i}`, keys }, amy.accessToken)).status).toBe(201);
			}
			await broker.emit("tasks.task.assigned", { task: task(700, "Fan out"), assigneeId: amy.id, previousAssigneeId: null, by: bob.id });
			await until(() => push.received.length === 10, "ten pushes");
			await new Promise((resolve) => setTimeout(resolve, 200));
			expect(push.received).toHaveLength(10);
		});

		it("refuses a subscription that is not a push endpoint", async () => {
			const bad = await platform.client.post<ErrorBody>("/api/v1/notifications/push/subscriptions", { endpoint: "javascript:alert(1)", keys }, bob.accessToken);
			expect(bad.status).toBe(422);
		});
	});
});

describe("the digest with an AI host up", () => {
	const clock = new ManualClock(Date.parse("2026-11-25T12:00:00Z"));
	let smtp: SmtpTestServer;
	let ollama: OllamaTestServer;
	let platform: Platform;

	beforeAll(async () => {
		smtp = await SmtpTestServer.start();
		ollama = await OllamaTestServer.start({ latencyMs: 5 });
		platform = await startPlatform({ notifications: { now: () => clock.now(), smtpUrl: smtp.url, tickMs: 3_600_000 }, ai: { ollamaHost: ollama.url } });
	});
	afterAll(async () => {
		await platform.broker.stop();
		await smtp.stop();
		await ollama.stop();
	});

	it("opens the digest with the AI's summary of what is in it", async () => {
		const amy = await platform.client.signUp("amy");
		const bob = await platform.client.signUp("bob");
		for (let i = 0; i < 3; i++) {
			await platform.broker.emit("tasks.task.transitioned", { task: task(i + 1, `Dig ${i}`, 2), from: "todo", to: "done", by: amy.id, watcherIds: [bob.id] });
		}
		await until(async () => (await platform.client.get<NotificationPage>("/api/v1/notifications", bob.accessToken)).body.items.length === 3, "three notifications");
		await platform.broker.call("notifications.tick");
		clock.advance(61 * 60_000);
		await platform.broker.call("notifications.tick");

		await until(() => smtp.to("bob@example.com").length === 1, "the digest");
		const [digest] = smtp.to("bob@example.com");
		const asked = ollama.lastBody("/api/chat") as { messages: { role: string; content: string }[] };
		expect(asked.messages.find((message) => message.role === "user")?.content).toContain("amy moved “Dig 2” to done");
		expect(digest.text.split("\n")[0]).not.toMatch(/^- /);
		expect(digest.text).toContain("- amy moved “Dig 0” to done");
	});
});

describe("the rules notifications are sent by", () => {
	it("counts quiet hours in the person's time zone, across midnight, to the minute they end", () => {
		const paris = (iso: string) => quietUntil(Date.parse(iso), "Europe/Paris", "22:00", "07:00");
		expect(paris("2026-11-27T20:59:00Z")).toBeNull(); // 21:59 in Paris
		expect(paris("2026-11-27T21:00:00Z")).toBe(Date.parse("2026-11-28T06:00:00Z"));
		expect(paris("2026-11-28T05:59:30Z")).toBe(Date.parse("2026-11-28T06:00:00Z"));
		expect(paris("2026-11-28T06:00:00Z")).toBeNull();
		expect(quietUntil(Date.parse("2026-11-27T03:00:00Z"), "Asia/Tokyo", "09:00", "17:00")).toBe(Date.parse("2026-11-27T08:00:00Z")); // 12:00 to 17:00 in Tokyo
		expect(quietUntil(Date.parse("2026-11-27T13:00:00Z"), "Asia/Tokyo", "09:00", "17:00")).toBeNull(); // 22:00 in Tokyo
		expect(quietUntil(Date.parse("2026-11-27T13:00:00Z"), "UTC", "08:00", "08:00")).toBeNull();
	});

	it("lets a production server push only to push services by name, never to an address on its own network", () => {
		expect(isPublicPushEndpoint("https://fcm.googleapis.com/fcm/send/abc")).toBe(true);
		expect(isPublicPushEndpoint("https://updates.push.services.mozilla.com/wpush/v2/abc")).toBe(true);
		for (const endpoint of ["http://fcm.googleapis.com/x", "https://127.0.0.1/x", "https://10.0.0.5:8443/x", "https://[::1]/x", "https://localhost/x", "https://redis/x", "https://a.localhost/x", "not a url"]) {
			expect([endpoint, isPublicPushEndpoint(endpoint)]).toEqual([endpoint, false]);
		}
	});
});

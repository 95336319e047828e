import { ColonyRestClient, WebSocketBridge, type NotificationView } from "../../client";
import { startPlatform, type Platform } from "../support/platform";
import { failure } from "../support/api-failure";
import { tasksService } from "../support/tasks";
import { until } from "../support/waiting";

const PASSWORD = "correct horse battery";

describe("the SDK runs a project end to end: tasks, the workflow, comments and the notifications they cause", () => {
	let platform: Platform;
	let amy: ColonyRestClient;
	let bob: ColonyRestClient;
	let bobId: number;
	const bridges: WebSocketBridge[] = [];

	beforeAll(async () => {
		platform = await startPlatform({ chat: {}, notifications: {}, services: [tasksService({ triage: { enabled: false } })], api: { rateLimitPerMinute: 10_000 } });
		const people: ColonyRestClient[] = [];
		for (const name of ["amy", "bob"]) {
			const client = new ColonyRestClient({ baseUrl: platform.client.baseUrl });
			await client.register({ username: name, email: `${name}@example.com`, password: PASSWORD });
			await client.login(name, PASSWORD);
			people.push(client);
		}
		[amy, bob] = people;
		bobId = (await bob.me()).id;
	});
	afterAll(async () => {
		for (const bridge of bridges) bridge.disconnect();
		await platform.broker.stop();
	});

	it("assigns, moves, refuses an illegal move and a stale edit with their reasons, and tells the assignee live", async () => {
		const bridge = new WebSocketBridge({ reconnectionDelay: 50 });
		bridges.push(bridge);
		const heard: NotificationView[] = [];
		bridge.on("notification", (notification) => heard.push(notification));
		await bridge.connect(platform.client.baseUrl, bob.tokenProvider());

		const project = await amy.createProject({ name: "Anthill", members: [bobId] });
		expect((await bob.listProjects()).map((item) => item.name)).toEqual(["Anthill"]);
		const task = await amy.createTask(project.id, { title: "Carry the leaf", priority: "high", assigneeId: bobId, labels: ["Outdoor"] });
		expect(task).toMatchObject({ status: "backlog", version: 1, labels: ["outdoor"] });

		await until(() => heard.length === 1, "bob hears of the assignment");
		expect(heard[0]).toMatchObject({ type: "assignment", title: "amy assigned you “Carry the leaf”", link: `/tasks/${task.id}` });

		const illegal = await failure(bob.moveTask(task.id, "done"));
		expect(illegal).toMatchObject({ status: 422, type: "ILLEGAL_TRANSITION" });
		const moved = await bob.moveTask(task.id, "todo");
		expect(moved.status).toBe("todo");

		const stale = await failure(amy.updateTask(task.id, { version: task.version, title: "Carry two leaves" }));
		expect(stale.status).toBe(409);
		const renamed = await amy.updateTask(task.id, { version: moved.version, title: "Carry two leaves" });
		expect(renamed.title).toBe("Carry two leaves");

		await bob.addComment(task.id, "On my way");
		expect((await amy.comments(task.id)).map((comment) => comment.text)).toEqual(["On my way"]);
		const activity = await amy.activity(task.id);
		expect(activity.map((entry) => entry.action)).toEqual(["created", "transitioned", "updated", "commented"]);
		expect(activity[2]).toMatchObject({ before: { title: "Carry the leaf" }, after: { title: "Carry two leaves" } });
		expect((await amy.listTasks(project.id, { status: "todo", assigneeId: bobId })).items.map((item) => item.id)).toEqual([task.id]);

		// bob is connected: his comment's watcher (amy) is not, and keeps an unread notification of it.
		await until(async () => (await amy.notifications()).unread > 0, "amy's notification of bob's move and comment");
		const page = await amy.notifications({ unread: true });
		expect(page.items.map((item) => item.type).sort()).toEqual(["comment", "status_change"]);
		const read = await amy.markNotificationRead(page.items[0].id);
		expect(read.unread).toBe(page.unread - 1);
		expect((await amy.markAllNotificationsRead()).unread).toBe(0);
	});

	it("keeps each person's notification preferences, and refuses ones it cannot use with the field named", async () => {
		const changed = await bob.setNotificationPreferences({ timeZone: "Europe/Berlin", quietHours: { start: "22:00", end: "07:00" }, digest: { windowMinutes: 120 }, channels: { comment: { email: false } } });
		expect(changed).toMatchObject({ timeZone: "Europe/Berlin", quietHours: { start: "22:00", end: "07:00" }, digest: { enabled: true, windowMinutes: 120 }, channels: { comment: { inApp: true, email: false, push: true } } });
		expect(await bob.notificationPreferences()).toEqual(changed);
		expect((await amy.notificationPreferences()).timeZone).toBe("UTC");

		const refused = await failure(bob.setNotificationPreferences({ timeZone: "Atlantis/Capital" }));
		expect(refused.status).toBe(422);
		expect(JSON.stringify(refused.data)).toContain("timeZone");
	});
});

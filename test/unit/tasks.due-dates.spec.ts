import type { ServiceBroker } from "moleculer";
import { ManualClock } from "../../lib/clock";
import type { ProjectView, TaskDueSoonEvent, TaskView } from "../../types/tasks";
import { apiService, gatewayUrl, RestClient, testBroker, usersService, type SignedInUser } from "../support/platform";
import { createProject, createTask, taskEventRecorder, tasksService } from "../support/tasks";
import { until } from "../support/waiting";

const HOUR = 3_600_000;
const START = Date.parse("2030-03-01T09:00:00Z");
const at = (ms: number) => new Date(ms).toISOString();

describe("due-date reminders", () => {
	const clock = new ManualClock(START);
	const recorder = taskEventRecorder();
	let broker: ServiceBroker;
	let rest: RestClient;
	let amy: SignedInUser;
	let bob: SignedInUser;
	let project: ProjectView;

	const check = async () => (await broker.call<{ announced: number }>("tasks.checkDueDates")).announced;
	const reminded = (task: { id: number }) => recorder.named<TaskDueSoonEvent>("tasks.task.due_soon").filter((event) => event.task.id === task.id);
	const move = async (task: TaskView, ...states: string[]) => {
		for (const to of states) expect((await rest.post(`/api/v1/tasks/${task.id}/transition`, { to }, amy.accessToken)).status).toBe(200);
	};

	beforeAll(async () => {
		broker = testBroker();
		broker.createService(usersService());
		broker.createService(tasksService({ clock, dueSoonMs: 24 * HOUR, triage: { enabled: false } }));
		broker.createService(apiService({ rateLimitPerMinute: 1_000_000 }));
		broker.createService(recorder.schema);
		await broker.start();
		rest = new RestClient(gatewayUrl(broker));
		amy = await rest.signUp("amy");
		bob = await rest.signUp("bob");
		project = await createProject(rest, amy, { name: "Deadlines", members: [bob.id] });
	});
	afterEach(() => clock.set(START));
	afterAll(() => broker.stop());

	it("announces a task once, to its watchers, when its due date comes within a day, however often it is checked", async () => {
		const task = await createTask(rest, amy, project.id, { title: "File the taxes", assigneeId: bob.id, dueDate: at(START + 48 * HOUR) });
		expect(await check()).toBe(0);
		clock.advance(23 * HOUR);
		expect(await check()).toBe(0);
		clock.advance(HOUR + 1);
		expect(await check()).toBe(1);
		expect((await Promise.all([check(), check(), check()])).reduce((sum, count) => sum + count, 0)).toBe(0);
		clock.advance(48 * HOUR);
		expect(await check()).toBe(0);
		await until(() => reminded(task).length === 1, "the reminder arrives");
		expect(reminded(task)).toEqual([{ task, watcherIds: [amy.id, bob.id].sort((a, b) => a - b) }]);
	});

	it("announces again when the due date changes", async () => {
		const task = await createTask(rest, amy, project.id, { title: "Renew the domain", dueDate: at(START + 2 * HOUR) });
		expect(await check()).toBe(1);
		await rest.patch(`/api/v1/tasks/${task.id}`, { version: 1, title: "Renew the domain name" }, amy.accessToken);
		expect(await check()).toBe(0);
		await rest.patch(`/api/v1/tasks/${task.id}`, { version: 2, dueDate: at(START + 5 * HOUR) }, amy.accessToken);
		expect(await check()).toBe(1);
		await rest.patch(`/api/v1/tasks/${task.id}`, { version: 3, dueDate: at(START + 30 * 24 * HOUR) }, amy.accessToken);
		expect(await check()).toBe(0);
		clock.advance(29 * 24 * HOUR + 1);
		expect(await check()).toBe(1);
		await until(() => reminded(task).length === 3, "three reminders arrive");
		expect(reminded(task).map((event) => event.task.dueDate)).toEqual([at(START + 2 * HOUR), at(START + 5 * HOUR), at(START + 30 * 24 * HOUR)]);
	});

	it("announces a task created past its due date once", async () => {
		const task = await createTask(rest, amy, project.id, { title: "Already late", dueDate: at(START - 3 * HOUR) });
		expect(await check()).toBe(1);
		expect(await check()).toBe(0);
		await until(() => reminded(task).length === 1, "the reminder arrives");
	});

	it("keeps quiet about finished and deleted tasks, and speaks up when a finished task is reopened", async () => {
		const done = await createTask(rest, amy, project.id, { title: "Ship the release", dueDate: at(START + 36 * HOUR) });
		await move(done, "todo", "in_progress", "in_review", "done");
		const deleted = await createTask(rest, amy, project.id, { title: "Dropped", dueDate: at(START + 36 * HOUR) });
		await rest.request("DELETE", `/api/v1/tasks/${deleted.id}`, { token: amy.accessToken });
		const undated = await createTask(rest, amy, project.id, { title: "Some day" });
		clock.advance(24 * HOUR);
		expect(await check()).toBe(0);
		await move(done, "in_progress");
		expect(await check()).toBe(1);
		await until(() => reminded(done).length === 1, "the reminder arrives");
		expect(reminded(deleted)).toEqual([]);
		expect(reminded(undated)).toEqual([]);
	});
});

describe("the due-date timer", () => {
	it("checks by itself every dueCheckMs", async () => {
		const recorder = taskEventRecorder();
		const broker = testBroker();
		broker.createService(usersService());
		broker.createService(tasksService({ dueCheckMs: 50, triage: { enabled: false } }));
		broker.createService(apiService({ rateLimitPerMinute: 1_000_000 }));
		broker.createService(recorder.schema);
		await broker.start();
		try {
			const rest = new RestClient(gatewayUrl(broker));
			const amy = await rest.signUp("amy");
			const project = await createProject(rest, amy, { name: "Timed" });
			const task = await createTask(rest, amy, project.id, { title: "Soon", dueDate: new Date(Date.now() + HOUR).toISOString() });
			await until(() => recorder.named("tasks.task.due_soon").length === 1, "the timer announces the task");
			await new Promise((resolve) => setTimeout(resolve, 200));
			expect(recorder.named<TaskDueSoonEvent>("tasks.task.due_soon").map((event) => event.task.id)).toEqual([task.id]);
		} finally {
			await broker.stop();
		}
	});
});

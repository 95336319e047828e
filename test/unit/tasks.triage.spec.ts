import type { Context, Middleware, ServiceBroker } from "moleculer";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostBoard } from "../../lib/ai/host-board";
import { TASK_CATEGORIES, type TaskTriage } from "../../services/tasks/triage";
import { TASK_PRIORITIES, type ActivityView, type ProjectView, type TaskUpdatedEvent, type TaskView } from "../../types/tasks";
import type { SessionUser } from "../../types/users";
import { OllamaTestServer } from "../support/ollama-server";
import { aiService, apiService, gatewayUrl, RestClient, testBroker, usersService, type ErrorBody, type SignedInUser } from "../support/platform";
import { createProject, createTask, taskEventRecorder, tasksService, triaged } from "../support/tasks";
import { until } from "../support/waiting";

/** What Ollama was asked about this text with a JSON schema: the classifications. */
function classificationsOf(ollama: OllamaTestServer, text: string): number {
	return ollama.requests({ path: "/api/chat" }).filter((request) => {
		const body = request.body as { format?: unknown; messages?: { content: string }[] };
		return body.format !== undefined && body.messages?.some((message) => message.content.includes(text));
	}).length;
}

async function triageRowsOf(rest: RestClient, user: SignedInUser, taskId: number): Promise<ActivityView[]> {
	const { items } = (await rest.get<{ items: ActivityView[] }>(`/api/v1/tasks/${taskId}/activity`, user.accessToken)).body;
	return items.filter((item) => item.action === "triaged");
}

/**
 * A tasks database in a file, as embedded mode keeps it. In-memory SQLite serves every query on one shared connection,
 * so a read would see a triage transaction half done (stored, not yet applied): these tests read while triage runs.
 */
function fileDatabase(): { uri: string; remove(): void } {
	const dir = mkdtempSync(join(tmpdir(), "colony-triage-db-"));
	return { uri: `sqlite:${join(dir, "tasks.sqlite")}`, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

describe("the AI's triage of new tasks", () => {
	const tasksDb = fileDatabase();
	let ollama: OllamaTestServer;
	let broker: ServiceBroker;
	let rest: RestClient;
	const recorder = taskEventRecorder();
	let amy: SignedInUser;
	let bob: SignedInUser;
	let project: ProjectView;
	/** Who each `ai.classify` call was made for. */
	const classifiedFor: (SessionUser | null | undefined)[] = [];
	const recordCallers: Middleware = {
		localAction(handler: (ctx: Context) => Promise<unknown>, action: { name?: string }) {
			if (action.name !== "ai.classify") return handler;
			return (ctx: Context<unknown, { user?: SessionUser | null }>) => {
				classifiedFor.push(ctx.meta.user);
				return handler(ctx);
			};
		},
	};

	beforeAll(async () => {
		ollama = await OllamaTestServer.start();
		broker = testBroker({ middlewares: [recordCallers] });
		broker.createService(usersService());
		broker.createService(tasksService({ databaseUri: tasksDb.uri }));
		broker.createService(aiService({ ollamaHost: ollama.url }));
		broker.createService(apiService({ rateLimitPerMinute: 1_000_000 }));
		broker.createService(recorder.schema);
		await broker.start();
		rest = new RestClient(gatewayUrl(broker));
		await rest.signUp("root");
		amy = await rest.signUp("amy");
		bob = await rest.signUp("bob");
		project = await createProject(rest, amy, { name: "Web", members: [bob.id] });
	});
	afterAll(async () => {
		await broker.stop();
		await ollama.stop();
		tasksDb.remove();
	});

	it("stores the suggestion on the task without applying it, asked in the creator's name", async () => {
		const title = "Checkout button does nothing on the cart page";
		const created = await createTask(rest, bob, project.id, { title, description: "Clicking it shows no error." });
		expect(created.triage).toEqual({ status: "pending", applied: false, similar: [] });
		const task = await triaged(rest, amy, created.id);

		expect(task.triage).toMatchObject({ status: "done", applied: false, similar: [], at: expect.any(String) });
		expect(TASK_CATEGORIES).toContain(task.triage!.category);
		expect(TASK_PRIORITIES).toContain(task.triage!.priority);
		expect(task.triage!.labels!.length).toBeGreaterThan(0);
		expect(task.triage!.labels!.length).toBeLessThanOrEqual(5);
		expect(task.triage!.confidence).toBeGreaterThanOrEqual(0);
		expect(task.triage!.confidence).toBeLessThanOrEqual(1);
		// Not applied: the project did not opt in.
		expect(task).toMatchObject({ priority: "none", labels: [], version: 1 });
		const [row] = await triageRowsOf(rest, amy, task.id);
		expect(row).toMatchObject({ actorId: null, before: null, after: { category: task.triage!.category, priority: task.triage!.priority, similar: [] } });
		expect(classificationsOf(ollama, "Clicking it shows no error.")).toBe(1);
		expect(classifiedFor).toEqual([expect.objectContaining({ id: bob.id, username: "bob", roles: ["member"], sessionId: `tasks-triage:${task.id}` })]);
	});

	it("applies the suggestion by itself in a project that opted in, to the fields the creator left as they come", async () => {
		const auto = await createProject(rest, amy, { name: "Auto", members: [bob.id], autoApplyTriage: true });
		recorder.events.length = 0;
		const plain = await triaged(rest, amy, (await createTask(rest, bob, auto.id, { title: "Dark mode for the settings page" })).id);
		expect(plain).toMatchObject({ priority: plain.triage!.priority, labels: plain.triage!.labels, version: 2, triage: { applied: true } });
		const log = await rest.get<{ items: ActivityView[] }>(`/api/v1/tasks/${plain.id}/activity`, amy.accessToken);
		expect(log.body.items.map((entry) => [entry.action, entry.actorId])).toEqual([
			["created", bob.id],
			["triaged", null],
			["updated", null],
		]);
		expect(log.body.items[2]).toMatchObject({ before: { priority: "none", labels: [] }, after: { priority: plain.triage!.priority, labels: plain.triage!.labels } });
		await until(() => recorder.named("tasks.task.updated").length === 1, "the change is announced");
		expect(recorder.named<TaskUpdatedEvent>("tasks.task.updated")[0]).toMatchObject({
			automatic: true,
			by: bob.id,
			changes: ["priority", "labels"],
			watcherIds: [bob.id],
			task: { id: plain.id, version: 2 },
		});

		const chosen = await triaged(rest, amy, (await createTask(rest, bob, auto.id, { title: "Rename the billing tab", priority: "low", labels: ["billing"] })).id);
		expect(chosen).toMatchObject({ priority: "low", labels: ["billing"], version: 1, triage: { applied: false } });
	});

	it("applies a suggestion by hand on request, once", async () => {
		const task = await triaged(rest, amy, (await createTask(rest, bob, project.id, { title: "Slow search results page", labels: ["search"] })).id);
		const applied = await rest.post<{ task: TaskView }>(`/api/v1/tasks/${task.id}/triage/apply`, {}, amy.accessToken);
		expect(applied.status).toBe(200);
		expect(applied.body.task).toMatchObject({
			priority: task.triage!.priority,
			labels: [...new Set(["search", ...task.triage!.labels!])],
			version: 2,
			triage: { applied: true },
		});
		const again = await rest.post<{ task: TaskView }>(`/api/v1/tasks/${task.id}/triage/apply`, {}, amy.accessToken);
		expect(again.body.task.version).toBe(2);
		const stale = await rest.post<ErrorBody>(`/api/v1/tasks/${(await triaged(rest, amy, (await createTask(rest, bob, project.id, { title: "Another one" })).id)).id}/triage/apply`, { version: 7 }, amy.accessToken);
		expect([stale.status, stale.body.type]).toEqual([409, "VERSION_CONFLICT"]);
	});

	it("flags the most similar tasks of the project as likely duplicates", async () => {
		const board = await createProject(rest, amy, { name: "Duplicates" });
		const original = await triaged(rest, amy, (await createTask(rest, amy, board.id, { title: "Login page crashes on Safari when the password is empty" })).id);
		await triaged(rest, amy, (await createTask(rest, amy, board.id, { title: "Write the quarterly newsletter" })).id);
		const elsewhere = await createProject(rest, amy, { name: "Elsewhere" });
		await triaged(rest, amy, (await createTask(rest, amy, elsewhere.id, { title: "Login page crashes on Safari when the password is empty" })).id);

		const duplicate = await triaged(rest, amy, (await createTask(rest, amy, board.id, { title: "Login page crashes in Safari when the password field is empty" })).id);
		expect(duplicate.triage!.similar).toEqual([{ taskId: original.id, title: original.title, score: expect.any(Number) }]);
		expect(duplicate.triage!.similar[0].score).toBeGreaterThanOrEqual(0.75);
		const unrelated = await triaged(rest, amy, (await createTask(rest, amy, board.id, { title: "Export invoices as CSV" })).id);
		expect(unrelated.triage!.similar).toEqual([]);
	});

	it("leaves a task without a suggestion when the model's answer never fits, and still finds similar tasks", async () => {
		const board = await createProject(rest, amy, { name: "Garbled" });
		const first = await triaged(rest, amy, (await createTask(rest, amy, board.id, { title: "Upload fails for large PDF files" })).id);
		// ai.classify asks twice when an answer does not fit: both answers are cut off.
		ollama.invalidJsonNext(2);
		const task = await triaged(rest, amy, (await createTask(rest, amy, board.id, { title: "Upload fails for large PDF files again" })).id);
		expect(task.triage).toEqual({ status: "done", applied: false, similar: [expect.objectContaining({ taskId: first.id })], at: expect.any(String) });
		expect(await triageRowsOf(rest, amy, task.id)).toHaveLength(1);
	});

	it("waits while the only AI host is down and triages each task once it is back", async () => {
		await ollama.down();
		await until(() => hostBoard(broker).status(broker.nodeID)?.healthy === false, "the host reports it is down");
		const titles = ["Crash when the network drops", "Typo on the pricing page", "Add a keyboard shortcut for search"];
		const created: TaskView[] = [];
		for (const title of titles) created.push(await createTask(rest, amy, project.id, { title }));
		expect(created.map((task) => task.triage?.status)).toEqual(["pending", "pending", "pending"]);
		const applyEarly = await rest.post<ErrorBody>(`/api/v1/tasks/${created[0].id}/triage/apply`, {}, amy.accessToken);
		expect([applyEarly.status, applyEarly.body.type]).toEqual([409, "TRIAGE_NOT_READY"]);

		await ollama.up();
		for (const task of created) expect((await triaged(rest, amy, task.id)).triage!.category).toBeDefined();
		for (const task of created) expect(await triageRowsOf(rest, amy, task.id)).toHaveLength(1);
		for (const title of titles) expect(classificationsOf(ollama, title)).toBe(1);
	});

	it("creates the task when the queue refuses its job, and queues it again later", async () => {
		const send = jest.spyOn(broker, "sendToChannel").mockRejectedValueOnce(new Error("the queue is down"));
		try {
			const task = await createTask(rest, amy, project.id, { title: "Created while the queue was down" });
			await until(() => send.mock.calls.length === 1, "the job was offered to the queue");
			await new Promise((resolve) => setTimeout(resolve, 200));
			expect((await rest.get<{ task: TaskView }>(`/api/v1/tasks/${task.id}`, amy.accessToken)).body.task.triage?.status).toBe("pending");
			const triage = (broker.getLocalService("tasks") as unknown as { triageJobs: TaskTriage }).triageJobs;
			// A sweep a couple of minutes later, as the service's timer runs it.
			expect(await triage.sweep(Date.now() + 120_000)).toBe(1);
			await triaged(rest, amy, task.id);
			expect(await triage.sweep(Date.now() + 120_000)).toBe(0);
		} finally {
			send.mockRestore();
		}
	});
});

describe("a task created while no ai service exists", () => {
	const tasksDb = fileDatabase();
	let ollama: OllamaTestServer;
	let broker: ServiceBroker;
	let rest: RestClient;

	beforeAll(async () => {
		ollama = await OllamaTestServer.start();
		broker = testBroker();
		broker.createService(usersService());
		broker.createService(tasksService({ databaseUri: tasksDb.uri }));
		broker.createService(apiService({ rateLimitPerMinute: 1_000_000 }));
		await broker.start();
		rest = new RestClient(gatewayUrl(broker));
	});
	afterAll(async () => {
		await broker.stop();
		await ollama.stop();
		tasksDb.remove();
	});

	it("is created at once, and triaged once an ai node joins", async () => {
		const amy = await rest.signUp("amy");
		const project = await createProject(rest, amy, { name: "Early", autoApplyTriage: true });
		const created: TaskView[] = [];
		for (const title of ["Password reset mail never arrives", "Show the build number in the footer"]) {
			const answer = await rest.post<{ task: TaskView }>(`/api/v1/projects/${project.id}/tasks`, { title }, amy.accessToken);
			expect(answer.status).toBe(201);
			created.push(answer.body.task);
		}
		await new Promise((resolve) => setTimeout(resolve, 300));
		for (const task of created) expect((await rest.get<{ task: TaskView }>(`/api/v1/tasks/${task.id}`, amy.accessToken)).body.task).toMatchObject({ version: 1, triage: { status: "pending" } });

		broker.createService(aiService({ ollamaHost: ollama.url }));
		for (const task of created) {
			const done = await triaged(rest, amy, task.id);
			expect(done).toMatchObject({ version: 2, triage: { applied: true } });
			expect(await triageRowsOf(rest, amy, task.id)).toHaveLength(1);
			expect(classificationsOf(ollama, task.title)).toBe(1);
		}
	});
});

describe("triage across a restart of the one-process platform", () => {
	const dir = mkdtempSync(join(tmpdir(), "colony-triage-"));
	const databases = { usersDb: `sqlite:${join(dir, "users.sqlite")}`, tasksDb: `sqlite:${join(dir, "tasks.sqlite")}` };
	afterAll(() => rmSync(dir, { recursive: true, force: true }));

	async function start(ollamaHost?: string): Promise<{ broker: ServiceBroker; rest: RestClient }> {
		const broker = testBroker();
		broker.createService(usersService({ databaseUri: databases.usersDb }));
		broker.createService(tasksService({ databaseUri: databases.tasksDb }));
		if (ollamaHost) broker.createService(aiService({ ollamaHost }));
		broker.createService(apiService({ rateLimitPerMinute: 1_000_000 }));
		await broker.start();
		return { broker, rest: new RestClient(gatewayUrl(broker)) };
	}

	it("triages a task whose job the in-process queue lost when the process stopped, as soon as it starts again", async () => {
		const first = await start();
		const amy = await first.rest.signUp("amy");
		const project = await createProject(first.rest, amy, { name: "Restarted" });
		const task = await createTask(first.rest, amy, project.id, { title: "Export fails for large projects" });
		expect(task.triage?.status).toBe("pending");
		await first.broker.stop();

		const ollama = await OllamaTestServer.start();
		const second = await start(ollama.url);
		try {
			const again = { ...amy, ...(await second.rest.login("amy")) };
			const done = await triaged(second.rest, again, task.id, 10_000);
			expect(done.triage?.category).toBeDefined();
			expect(classificationsOf(ollama, "Export fails for large projects")).toBe(1);
		} finally {
			await second.broker.stop();
			await ollama.stop();
		}
	});
});

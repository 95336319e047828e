import type { ServiceBroker } from "moleculer";
import { hostBoard } from "../../lib/ai/host-board";
import type { ProjectView, TaskDueSoonEvent, TaskView } from "../../types/tasks";
import { clearJetStreamNamespace, clearRedisNamespace, clusterBroker, TestDatabase, uniqueNamespace } from "../support/cluster";
import { describeIntegration } from "../support/integration";
import { OllamaTestServer } from "../support/ollama-server";
import { aiService, apiService, gatewayUrl, RestClient, usersService, type SignedInUser } from "../support/platform";
import { servers } from "../support/servers";
import { createProject, createTask, taskEventRecorder, tasksService, triaged } from "../support/tasks";
import { until } from "../support/waiting";

describeIntegration("tasks on two nodes, triaged by an ai node that comes late (NATS with JetStream, MariaDB, Redis)", () => {
	const namespace = uniqueNamespace("it-tasks");
	const usersDb = new TestDatabase(`${namespace}-users`);
	const tasksDb = new TestDatabase(`${namespace}-tasks`);
	const recorder = taskEventRecorder();
	let ollama: OllamaTestServer;
	let nodes: ServiceBroker[] = [];
	let tasksNodes: ServiceBroker[] = [];
	let rest: RestClient;
	let amy: SignedInUser;
	let bob: SignedInUser;
	let project: ProjectView;

	/** How many times Ollama was asked to classify a text containing `text`. */
	const classificationsOf = (text: string) =>
		ollama.requests({ path: "/api/chat" }).filter((request) => {
			const body = request.body as { format?: unknown; messages?: { content: string }[] };
			return body.format !== undefined && body.messages?.some((message) => message.content.includes(text));
		}).length;

	const triageRows = async (taskIds: number[]) => {
		const rows = await tasksDb.rows(`SELECT taskId, COUNT(*) AS n FROM task_activity WHERE action = 'triaged' AND taskId IN (${taskIds.join(",")}) GROUP BY taskId`);
		return Object.fromEntries(rows.map((row) => [Number(row.taskId), Number(row.n)]));
	};

	const pending = async (tasks: TaskView[]) => {
		const states = await Promise.all(tasks.map(async (task) => (await rest.get<{ task: TaskView }>(`/api/v1/tasks/${task.id}`, amy.accessToken)).body.task.triage?.status));
		return states.every((status) => status === "pending");
	};

	beforeAll(async () => {
		await Promise.all([usersDb.create(), tasksDb.create()]);
		// The GPU host is up, but no ai node serves it until the first test starts one.
		ollama = await OllamaTestServer.start();
		const tasks = tasksService({ databaseUri: tasksDb.uri, triage: { aiPollMs: 100 } });
		tasksNodes = [clusterBroker(namespace, "tasks-1", [tasks]), clusterBroker(namespace, "tasks-2", [tasks])];
		nodes = [
			clusterBroker(namespace, "users-1", [usersService({ databaseUri: usersDb.uri })]),
			...tasksNodes,
			clusterBroker(namespace, "gateway-1", [apiService({ redisUrl: servers.redis, rateLimitPerMinute: 1_000_000 })]),
			clusterBroker(namespace, "listener-1", [recorder.schema]),
		];
		await Promise.all(nodes.map((node) => node.start()));
		await nodes[3].waitForServices(["users", "tasks"], 15_000);
		await until(() => (nodes[3].registry.getActionEndpoints("tasks.createTask")?.endpoints.length ?? 0) === 2, "the gateway knows both tasks nodes", 15_000);
		rest = new RestClient(gatewayUrl(nodes[3]));
		await rest.signUp("root");
		amy = await rest.signUp("amy");
		bob = await rest.signUp("bob");
		project = await createProject(rest, amy, { name: "Cluster", members: [bob.id] });
	});

	afterAll(async () => {
		await Promise.all(nodes.map((node) => node.stop()));
		await ollama.stop();
		await Promise.all([usersDb.drop(), tasksDb.drop()]);
		await Promise.all([clearRedisNamespace(namespace), clearJetStreamNamespace(namespace)]);
	});

	it("creates tasks while no AI host is up, and classifies each exactly once when a host comes", async () => {
		const titles = ["Invoice totals round the wrong way", "Add a dark theme to the editor", "Document the backup procedure", "Search ignores accented letters"];
		const created: TaskView[] = [];
		for (const title of titles) {
			const answer = await rest.post<{ task: TaskView }>(`/api/v1/projects/${project.id}/tasks`, { title }, bob.accessToken);
			expect(answer.status).toBe(201);
			expect(answer.body.task.triage).toMatchObject({ status: "pending" });
			created.push(answer.body.task);
		}
		await new Promise((resolve) => setTimeout(resolve, 1_000));
		expect(await pending(created)).toBe(true);

		const aiNode = clusterBroker(namespace, "ai-1", [aiService({ ollamaHost: ollama.url })]);
		nodes.push(aiNode);
		await aiNode.start();
		for (const task of created) expect((await triaged(rest, amy, task.id, 30_000)).triage!.category).toBeDefined();

		expect(await triageRows(created.map((task) => task.id))).toEqual(Object.fromEntries(created.map((task) => [task.id, 1])));
		for (const title of titles) expect(classificationsOf(title)).toBe(1);
	});

	it("waits while the ai node's Ollama is down, and classifies each task exactly once when it is back", async () => {
		await ollama.down();
		await until(() => tasksNodes.every((node) => hostBoard(node).status("ai-1")?.healthy === false), "the tasks nodes hear the host is down");
		const titles = ["Session expires during long uploads", "Translate the onboarding emails", "Remove the legacy export endpoint"];
		const created: TaskView[] = [];
		for (const title of titles) created.push(await createTask(rest, bob, project.id, { title }));
		await new Promise((resolve) => setTimeout(resolve, 1_500));
		expect(await pending(created)).toBe(true);

		await ollama.up();
		for (const task of created) expect((await triaged(rest, amy, task.id, 30_000)).triage!.category).toBeDefined();
		expect(await triageRows(created.map((task) => task.id))).toEqual(Object.fromEntries(created.map((task) => [task.id, 1])));
		for (const title of titles) expect(classificationsOf(title)).toBe(1);
	});

	it("lets exactly one of two updates from the same version win, whichever nodes they reach", async () => {
		const task = await createTask(rest, amy, project.id, { title: "Contended on MariaDB" });
		for (let round = 0; round < 5; round++) {
			const current = (await rest.get<{ task: TaskView }>(`/api/v1/tasks/${task.id}`, amy.accessToken)).body.task;
			const answers = await Promise.all(
				[amy, bob].map((user) => rest.patch(`/api/v1/tasks/${task.id}`, { version: current.version, title: `${user.username} ${round}` }, user.accessToken)),
			);
			expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
		}
		const rows = await tasksDb.rows(`SELECT COUNT(*) AS n FROM task_activity WHERE taskId = ${task.id} AND action = 'updated'`);
		expect(Number(rows[0].n)).toBe(5);
	});

	it("announces a due date once, however many tasks nodes check it at the same time", async () => {
		const task = await createTask(rest, amy, project.id, { title: "Renew the certificate", assigneeId: bob.id, dueDate: new Date(Date.now() + 3_600_000).toISOString() });
		const counts = await Promise.all(
			Array.from({ length: 6 }, (_, i) => nodes[3].call<{ announced: number }, Record<string, never>>("tasks.checkDueDates", {}, { nodeID: `tasks-${(i % 2) + 1}` })),
		);
		expect(counts.reduce((sum, count) => sum + count.announced, 0)).toBe(1);
		await until(() => recorder.named<TaskDueSoonEvent>("tasks.task.due_soon").some((event) => event.task.id === task.id), "the reminder arrives");
		await new Promise((resolve) => setTimeout(resolve, 300));
		expect(recorder.named<TaskDueSoonEvent>("tasks.task.due_soon").filter((event) => event.task.id === task.id)).toEqual([
			expect.objectContaining({ watcherIds: [amy.id, bob.id].sort((a, b) => a - b) }),
		]);
	});
});

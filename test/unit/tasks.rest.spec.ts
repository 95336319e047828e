import type { ServiceBroker } from "moleculer";
import type { ActivityView, CommentView, ProjectView, TaskAssignedEvent, TaskCommentedEvent, TaskCreatedEvent, TaskDeletedEvent, TaskTransitionedEvent, TaskUpdatedEvent, TaskView, Workflow } from "../../types/tasks";
import { apiService, gatewayUrl, RestClient, testBroker, usersService, type ErrorBody, type SignedInUser } from "../support/platform";
import { createProject, createTask, taskEventRecorder, tasksService } from "../support/tasks";
import { until } from "../support/waiting";

describe("tasks over REST", () => {
	let broker: ServiceBroker;
	let rest: RestClient;
	const recorder = taskEventRecorder();
	let amy: SignedInUser;
	let bob: SignedInUser;
	let cat: SignedInUser;
	let dan: SignedInUser;
	let gus: SignedInUser;
	/** amy admin, bob and dan members, cat viewer; gus is a guest of the platform and a member. */
	let project: ProjectView;

	const path = (task: { id: number }, rest = "") => `/api/v1/tasks/${task.id}${rest}`;
	const activityOf = async (task: { id: number }) => (await rest.get<{ items: ActivityView[] }>(path(task, "/activity"), amy.accessToken)).body.items;

	beforeAll(async () => {
		broker = testBroker();
		broker.createService(usersService());
		// No AI here: triage is the subject of tasks.triage.spec.ts.
		broker.createService(tasksService({ triage: { enabled: false } }));
		broker.createService(apiService({ rateLimitPerMinute: 1_000_000 }));
		broker.createService(recorder.schema);
		await broker.start();
		rest = new RestClient(gatewayUrl(broker));
		const root = await rest.signUp("root");
		[amy, bob, cat, dan, gus] = await Promise.all(["amy", "bob", "cat", "dan", "gus"].map((name) => rest.signUp(name)));
		expect((await rest.patch(`/api/v1/users/${gus.id}/roles`, { roles: ["guest"] }, root.accessToken)).status).toBe(200);
		gus = { ...gus, accessToken: (await rest.login("gus")).accessToken };
		project = await createProject(rest, amy, { name: "Colony web", members: [bob.id, dan.id, gus.id] });
		await rest.post(`/api/v1/projects/${project.id}/members`, { userId: cat.id, role: "viewer" }, amy.accessToken);
	});
	afterAll(() => broker.stop());

	describe("projects", () => {
		it("answers a created project with 201 and its Location; the creator is its admin, the people listed its members", async () => {
			const created = await rest.post<{ project: ProjectView }>("/api/v1/projects", { name: "Mobile", description: "The app", members: [bob.id, bob.id, amy.id] }, amy.accessToken);
			expect(created.status).toBe(201);
			expect(created.headers.get("location")).toBe(`/api/v1/projects/${created.body.project.id}`);
			expect(created.body.project).toMatchObject({
				name: "Mobile",
				description: "The app",
				createdBy: amy.id,
				autoApplyTriage: false,
				members: [
					{ userId: amy.id, role: "admin" },
					{ userId: bob.id, role: "member" },
				],
			});
			const bobs = await rest.get<{ items: ProjectView[] }>("/api/v1/projects", bob.accessToken);
			expect(bobs.body.items.map((item) => item.id)).toEqual(expect.arrayContaining([project.id, created.body.project.id]));
			const cats = await rest.get<{ items: ProjectView[] }>("/api/v1/projects", cat.accessToken);
			expect(cats.body.items.map((item) => item.id)).toEqual([project.id]);
		});

		it("refuses a member who does not exist, and guests may not create projects", async () => {
			const unknown = await rest.post("/api/v1/projects", { name: "Ghosts", members: [9_999] }, amy.accessToken);
			expect(unknown.status).toBe(404);
			expect(unknown.body).toMatchObject({ type: "USER_NOT_FOUND" });
			expect((await rest.get<{ items: ProjectView[] }>("/api/v1/projects", amy.accessToken)).body.items.map((item) => item.name)).not.toContain("Ghosts");
			const guest = await rest.post("/api/v1/projects", { name: "Mine" }, gus.accessToken);
			expect(guest.status).toBe(403);
		});

		it("does not let an outsider tell a project from one that does not exist", async () => {
			const secret = await createProject(rest, amy, { name: "Secret" });
			const outsider = await rest.signUp("outsider");
			for (const id of [secret.id, 123_456]) {
				for (const [method, url, body] of [
					["GET", `/api/v1/projects/${id}`, undefined],
					["GET", `/api/v1/projects/${id}/tasks`, undefined],
					["GET", `/api/v1/projects/${id}/workflow`, undefined],
					["POST", `/api/v1/projects/${id}/tasks`, { title: "sneak in" }],
					["POST", `/api/v1/projects/${id}/members`, { userId: outsider.id }],
				] as const) {
					const answer = await rest.request<ErrorBody>(method, url, { body, token: outsider.accessToken });
					expect([method, url, answer.status, answer.body.type]).toEqual([method, url, 404, "PROJECT_NOT_FOUND"]);
				}
			}
			const task = await createTask(rest, amy, secret.id, { title: "Hidden plan" });
			for (const url of [path(task), path(task, "/comments"), path(task, "/activity")]) {
				const answer = await rest.get<ErrorBody>(url, outsider.accessToken);
				expect([url, answer.status, answer.body.type]).toEqual([url, 404, "TASK_NOT_FOUND"]);
			}
			const patch = await rest.patch<ErrorBody>(path(task), { version: 1, title: "mine" }, outsider.accessToken);
			expect(patch.status).toBe(404);
		});

		it("lets only admins add members, change roles and settings, and keeps at least one admin", async () => {
			const team = await createProject(rest, amy, { name: "Team", members: [bob.id] });
			const byMember = await rest.post<ErrorBody>(`/api/v1/projects/${team.id}/members`, { userId: dan.id }, bob.accessToken);
			expect([byMember.status, byMember.body.type]).toEqual([403, "PROJECT_ADMIN_ONLY"]);
			const added = await rest.post<{ project: ProjectView }>(`/api/v1/projects/${team.id}/members`, { userId: dan.id, role: "viewer" }, amy.accessToken);
			expect(added.status).toBe(200);
			expect(added.body.project.members).toContainEqual({ userId: dan.id, role: "viewer" });
			expect((await rest.post(`/api/v1/projects/${team.id}/members`, { userId: 9_999 }, amy.accessToken)).status).toBe(404);
			expect((await rest.post(`/api/v1/projects/${team.id}/members`, { userId: dan.id, role: "owner" }, amy.accessToken)).status).toBe(422);

			const lastAdmin = await rest.post<ErrorBody>(`/api/v1/projects/${team.id}/members`, { userId: amy.id, role: "member" }, amy.accessToken);
			expect([lastAdmin.status, lastAdmin.body.type]).toEqual([409, "LAST_ADMIN"]);
			const leaving = await rest.request<ErrorBody>("DELETE", `/api/v1/projects/${team.id}/members/${amy.id}`, { token: amy.accessToken });
			expect([leaving.status, leaving.body.type]).toEqual([409, "LAST_ADMIN"]);
			await rest.post(`/api/v1/projects/${team.id}/members`, { userId: bob.id, role: "admin" }, amy.accessToken);
			const demoted = await rest.post<{ project: ProjectView }>(`/api/v1/projects/${team.id}/members`, { userId: amy.id, role: "member" }, amy.accessToken);
			expect(demoted.body.project.members).toEqual(expect.arrayContaining([{ userId: amy.id, role: "member" }, { userId: bob.id, role: "admin" }]));

			const settingsByMember = await rest.patch(`/api/v1/projects/${team.id}`, { autoApplyTriage: true }, amy.accessToken);
			expect(settingsByMember.status).toBe(403);
			const renamed = await rest.patch<{ project: ProjectView }>(`/api/v1/projects/${team.id}`, { name: "Team A", autoApplyTriage: true, description: null }, bob.accessToken);
			expect(renamed.body.project).toMatchObject({ name: "Team A", autoApplyTriage: true, description: null });
			expect((await rest.get<{ project: ProjectView }>(`/api/v1/projects/${team.id}`, amy.accessToken)).body.project.name).toBe("Team A");

			const removedByMember = await rest.request("DELETE", `/api/v1/projects/${team.id}/members/${dan.id}`, { token: amy.accessToken });
			expect(removedByMember.status).toBe(403);
			const left = await rest.request("DELETE", `/api/v1/projects/${team.id}/members/${amy.id}`, { token: amy.accessToken });
			expect(left.status).toBe(200);
			expect((await rest.get(`/api/v1/projects/${team.id}`, amy.accessToken)).status).toBe(404);
			const removed = await rest.request<{ project: ProjectView }>("DELETE", `/api/v1/projects/${team.id}/members/${dan.id}`, { token: bob.accessToken });
			expect(removed.body.project.members).toEqual([{ userId: bob.id, role: "admin" }]);
		});
	});

	describe("tasks", () => {
		it("creates a task in the workflow's initial state, answers 201 with its Location, and logs the creation", async () => {
			const created = await rest.post<{ task: TaskView }>(
				`/api/v1/projects/${project.id}/tasks`,
				{ title: "  Fix the login form  ", description: "It forgets the user name.\nEvery time.", priority: "high", assigneeId: bob.id, labels: ["Bug", "bug", " auth "], dueDate: "2030-05-01T12:00:00.250Z" },
				amy.accessToken,
			);
			expect(created.status).toBe(201);
			const task = created.body.task;
			expect(created.headers.get("location")).toBe(`/api/v1/tasks/${task.id}`);
			expect(task).toMatchObject({
				projectId: project.id,
				title: "Fix the login form",
				description: "It forgets the user name.\nEvery time.",
				status: "backlog",
				priority: "high",
				assigneeId: bob.id,
				labels: ["bug", "auth"],
				dueDate: "2030-05-01T12:00:00.250Z",
				version: 1,
				createdBy: amy.id,
				triage: null,
			});
			expect((await rest.get<{ task: TaskView }>(created.headers.get("location")!, cat.accessToken)).body.task).toEqual(task);
			const [logged] = await activityOf(task);
			expect(logged).toMatchObject({ action: "created", actorId: amy.id, before: null, after: { title: "Fix the login form", status: "backlog", assigneeId: bob.id, labels: ["bug", "auth"] } });
		});

		it.each([
			["an empty title", { title: "   " }],
			["a title with control characters", { title: "a\u0000b" }],
			["a title with a bidirectional override", { title: "admin\u202enimda" }],
			["an unknown priority", { title: "t", priority: "asap" }],
			["labels that are not a list", { title: "t", labels: "bug" }],
			["too many labels", { title: "t", labels: Array.from({ length: 21 }, (_, i) => `l${i}`) }],
			["a due date that is no date", { title: "t", dueDate: "next tuesday" }],
			["a due date beyond what is stored", { title: "t", dueDate: "+010000-01-01T00:00:00Z" }],
			["a field the contract does not have", { title: "t", status: "done" }],
			["an assignee id beyond the database's integers", { title: "t", assigneeId: 1e30 }],
		])("refuses a task with %s with 422, never a 500", async (_case, body) => {
			const answer = await rest.post<ErrorBody>(`/api/v1/projects/${project.id}/tasks`, body, amy.accessToken);
			expect(answer.status).toBe(422);
			expect(answer.body.type).toBe("VALIDATION_ERROR");
		});

		it("refuses an assignee who is not a member of the project", async () => {
			const outsider = await rest.signUp("stranger");
			const created = await rest.post<ErrorBody>(`/api/v1/projects/${project.id}/tasks`, { title: "t", assigneeId: outsider.id }, amy.accessToken);
			expect([created.status, created.body.type]).toEqual([422, "ASSIGNEE_NOT_MEMBER"]);
			const task = await createTask(rest, amy, project.id, { title: "Assign me" });
			const patched = await rest.patch<ErrorBody>(path(task), { version: 1, assigneeId: outsider.id }, amy.accessToken);
			expect([patched.status, patched.body.type]).toEqual([422, "ASSIGNEE_NOT_MEMBER"]);
		});

		it("lets viewers and guests read but not change anything", async () => {
			const task = await createTask(rest, amy, project.id, { title: "Read only" });
			expect((await rest.get(path(task), cat.accessToken)).status).toBe(200);
			expect((await rest.get(`/api/v1/projects/${project.id}/tasks`, gus.accessToken)).status).toBe(200);
			const writes: [string, string, unknown][] = [
				["POST", `/api/v1/projects/${project.id}/tasks`, { title: "mine" }],
				["PATCH", path(task), { version: 1, title: "mine" }],
				["POST", path(task, "/transition"), { to: "todo" }],
				["POST", path(task, "/comments"), { text: "hi" }],
				["DELETE", path(task), undefined],
				["POST", path(task, "/triage/apply"), {}],
			];
			for (const [method, url, body] of writes) {
				const viewer = await rest.request<ErrorBody>(method, url, { body, token: cat.accessToken });
				expect([method, url, viewer.status, viewer.body.type]).toEqual([method, url, 403, "PROJECT_READ_ONLY"]);
				// A guest of the platform lacks tasks:write, whatever the project says.
				const guest = await rest.request<ErrorBody>(method, url, { body, token: gus.accessToken });
				expect([method, url, guest.status]).toEqual([method, url, 403]);
			}
			expect((await rest.get<{ task: TaskView }>(path(task), amy.accessToken)).body.task).toMatchObject({ title: "Read only", version: 1, status: "backlog" });
		});

		it("updates the fields sent with the version read, and logs each change with before and after", async () => {
			const task = await createTask(rest, amy, project.id, { title: "Draft", labels: ["ui"] });
			const patched = await rest.patch<{ task: TaskView }>(
				path(task),
				{ version: 1, title: "Final", labels: ["ui", "Copy"], dueDate: "2031-01-02T03:04:05Z", assigneeId: dan.id, description: "Words" },
				bob.accessToken,
			);
			expect(patched.status).toBe(200);
			expect(patched.body.task).toMatchObject({ title: "Final", labels: ["ui", "copy"], dueDate: "2031-01-02T03:04:05.000Z", assigneeId: dan.id, version: 2, description: "Words" });
			const cleared = await rest.patch<{ task: TaskView }>(path(task), { version: 2, dueDate: null, assigneeId: null, description: null }, bob.accessToken);
			expect(cleared.body.task).toMatchObject({ dueDate: null, assigneeId: null, description: null, version: 3 });
			const unchanged = await rest.patch<{ task: TaskView }>(path(task), { version: 3, title: "Final" }, bob.accessToken);
			expect(unchanged.body.task.version).toBe(3);

			const log = (await activityOf(task)).slice(1);
			expect(log.map(({ action, actorId, before, after }) => ({ action, actorId, before, after }))).toEqual([
				{ action: "assigned", actorId: bob.id, before: { assigneeId: null }, after: { assigneeId: dan.id } },
				{
					action: "updated",
					actorId: bob.id,
					before: { title: "Draft", description: null, labels: ["ui"], dueDate: null },
					after: { title: "Final", description: "Words", labels: ["ui", "copy"], dueDate: "2031-01-02T03:04:05.000Z" },
				},
				{ action: "assigned", actorId: bob.id, before: { assigneeId: dan.id }, after: { assigneeId: null } },
				{ action: "updated", actorId: bob.id, before: { description: "Words", dueDate: "2031-01-02T03:04:05.000Z" }, after: { description: null, dueDate: null } },
			]);
			const missingVersion = await rest.patch(path(task), { title: "No version" }, bob.accessToken);
			expect(missingVersion.status).toBe(422);
		});

		it("refuses a stale version with 409 and the current version, never overwriting", async () => {
			const task = await createTask(rest, amy, project.id, { title: "Original" });
			expect((await rest.patch(path(task), { version: 1, title: "First edit" }, amy.accessToken)).status).toBe(200);
			const stale = await rest.patch<ErrorBody>(path(task), { version: 1, title: "Second edit" }, bob.accessToken);
			expect(stale.status).toBe(409);
			expect(stale.body).toMatchObject({ type: "VERSION_CONFLICT", data: { currentVersion: 2, sentVersion: 1 } });
			expect((await rest.get<{ task: TaskView }>(path(task), amy.accessToken)).body.task).toMatchObject({ title: "First edit", version: 2 });
		});

		it("lets exactly one of two concurrent updates from the same version win", async () => {
			const task = await createTask(rest, amy, project.id, { title: "Contended" });
			const answers = await Promise.all([
				rest.patch<{ task: TaskView }>(path(task), { version: 1, title: "Amy's" }, amy.accessToken),
				rest.patch<{ task: TaskView }>(path(task), { version: 1, title: "Bob's" }, bob.accessToken),
			]);
			expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
			const winner = answers.find((answer) => answer.status === 200)!.body.task;
			expect((await rest.get<{ task: TaskView }>(path(task), amy.accessToken)).body.task).toMatchObject({ title: winner.title, version: 2 });
			expect((await activityOf(task)).filter((entry) => entry.action === "updated")).toHaveLength(1);
		});

		it("lets the creator or a project admin delete a task; then it is gone", async () => {
			const bobs = await createTask(rest, bob, project.id, { title: "Bob's idea" });
			const notCreator = await rest.request<ErrorBody>("DELETE", path(bobs), { token: dan.accessToken });
			expect([notCreator.status, notCreator.body.type]).toEqual([403, "NOT_TASK_CREATOR"]);
			expect((await rest.request("DELETE", path(bobs), { token: amy.accessToken })).status).toBe(200);
			expect((await rest.get(path(bobs), bob.accessToken)).status).toBe(404);
			expect((await rest.request("DELETE", path(bobs), { token: amy.accessToken })).status).toBe(404);
			const listed = await rest.get<{ items: TaskView[] }>(`/api/v1/projects/${project.id}/tasks?limit=100`, bob.accessToken);
			expect(listed.body.items.map((item) => item.id)).not.toContain(bobs.id);
			const dans = await createTask(rest, dan, project.id, { title: "Dan's idea" });
			expect((await rest.request("DELETE", path(dans), { token: dan.accessToken })).status).toBe(200);
		});
	});

	describe("workflow", () => {
		it("moves tasks along the default workflow and refuses other moves with 422 ILLEGAL_TRANSITION", async () => {
			const task = await createTask(rest, amy, project.id, { title: "Walk the workflow" });
			const skip = await rest.post<ErrorBody>(path(task, "/transition"), { to: "done" }, bob.accessToken);
			expect(skip.status).toBe(422);
			expect(skip.body).toMatchObject({ type: "ILLEGAL_TRANSITION", data: { from: "backlog", to: "done", allowed: ["todo", "cancelled"] } });
			const unknown = await rest.post<ErrorBody>(path(task, "/transition"), { to: "shipped" }, bob.accessToken);
			expect([unknown.status, unknown.body.type]).toEqual([422, "ILLEGAL_TRANSITION"]);
			expect((await rest.post(path(task, "/transition"), { to: "Not A Key" }, bob.accessToken)).status).toBe(422);

			let version = 1;
			for (const to of ["todo", "in_progress", "in_review", "in_progress", "in_review", "done", "in_progress", "cancelled", "backlog"]) {
				const moved = await rest.post<{ task: TaskView }>(path(task, "/transition"), { to }, bob.accessToken);
				expect([to, moved.status]).toEqual([to, 200]);
				expect(moved.body.task).toMatchObject({ status: to, version: ++version });
			}
			const again = await rest.post<{ task: TaskView }>(path(task, "/transition"), { to: "backlog" }, bob.accessToken);
			expect(again.body.task).toMatchObject({ status: "backlog", version });
			const stale = await rest.post<ErrorBody>(path(task, "/transition"), { to: "todo", version: 1 }, bob.accessToken);
			expect([stale.status, stale.body.type]).toEqual([409, "VERSION_CONFLICT"]);

			const moves = (await activityOf(task)).filter((entry) => entry.action === "transitioned");
			expect(moves[0]).toMatchObject({ actorId: bob.id, before: { status: "backlog" }, after: { status: "todo" } });
			expect(moves).toHaveLength(9);
		});

		it("lets only a project admin change the workflow, and only to one that holds together", async () => {
			const own = await createProject(rest, amy, { name: "Flow", members: [bob.id] });
			const url = `/api/v1/projects/${own.id}/workflow`;
			const { workflow } = (await rest.get<{ workflow: Workflow }>(url, bob.accessToken)).body;
			expect(workflow.states.map((state) => state.key)).toEqual(["backlog", "todo", "in_progress", "in_review", "done", "cancelled"]);
			expect(workflow.initial).toBe("backlog");

			expect((await rest.put<ErrorBody>(url, workflow, bob.accessToken)).body.type).toBe("PROJECT_ADMIN_ONLY");
			const broken: [string, Workflow][] = [
				["a state twice", { ...workflow, states: [...workflow.states, workflow.states[0]] }],
				["a transition from nowhere", { ...workflow, transitions: [...workflow.transitions, { from: "limbo", to: "todo" }] }],
				["a transition to the same state", { ...workflow, transitions: [...workflow.transitions, { from: "todo", to: "todo" }] }],
				["an initial state that is not there", { ...workflow, initial: "limbo" }],
				["no states", { ...workflow, states: [] }],
				["a guard naming viewers", { ...workflow, transitions: [{ from: "todo", to: "done", roles: ["viewer"] }] }],
				["an unknown category", { ...workflow, states: [{ key: "x", name: "X", category: "finished" as "completed" }] }],
			];
			for (const [what, body] of broken) {
				const answer = await rest.put<ErrorBody>(url, body, amy.accessToken);
				expect([what, answer.status, answer.body.type]).toEqual([what, 422, "VALIDATION_ERROR"]);
			}
			expect((await rest.get<{ workflow: Workflow }>(url, bob.accessToken)).body.workflow).toEqual(workflow);
		});

		it("guards moves by project role (403) and starts new tasks in the workflow's initial state", async () => {
			const own = await createProject(rest, amy, { name: "Guarded", members: [bob.id] });
			const workflow: Workflow = {
				states: [
					{ key: "todo", name: "To do", category: "unstarted" },
					{ key: "doing", name: "Doing", category: "started" },
					{ key: "qa", name: "QA", category: "started" },
					{ key: "shipped", name: "Shipped", category: "completed" },
				],
				transitions: [
					{ from: "todo", to: "doing" },
					{ from: "doing", to: "qa" },
					{ from: "qa", to: "shipped", roles: ["admin"] },
					{ from: "qa", to: "doing" },
				],
				initial: "todo",
			};
			const saved = await rest.put<{ workflow: Workflow }>(`/api/v1/projects/${own.id}/workflow`, workflow, amy.accessToken);
			expect(saved.status).toBe(200);
			expect(saved.body.workflow).toEqual(workflow);

			const task = await createTask(rest, bob, own.id, { title: "Ship it" });
			expect(task.status).toBe("todo");
			for (const to of ["doing", "qa"]) expect((await rest.post(path(task, "/transition"), { to }, bob.accessToken)).status).toBe(200);
			const guarded = await rest.post<ErrorBody>(path(task, "/transition"), { to: "shipped" }, bob.accessToken);
			expect(guarded.status).toBe(403);
			expect(guarded.body).toMatchObject({ type: "TRANSITION_FORBIDDEN", data: { from: "qa", to: "shipped", roles: ["admin"] } });
			const illegal = await rest.post<ErrorBody>(path(task, "/transition"), { to: "todo" }, bob.accessToken);
			expect(illegal.body).toMatchObject({ type: "ILLEGAL_TRANSITION", data: { from: "qa", allowed: ["doing"] } });
			expect((await rest.post<{ task: TaskView }>(path(task, "/transition"), { to: "shipped" }, amy.accessToken)).body.task.status).toBe("shipped");
		});

		it("refuses to remove a state that tasks are in, saying which (409 STATE_IN_USE)", async () => {
			const own = await createProject(rest, amy, { name: "Shrinking" });
			const task = await createTask(rest, amy, own.id, { title: "In review" });
			for (const to of ["todo", "in_progress", "in_review"]) await rest.post(path(task, "/transition"), { to }, amy.accessToken);
			const url = `/api/v1/projects/${own.id}/workflow`;
			const { workflow } = (await rest.get<{ workflow: Workflow }>(url, amy.accessToken)).body;
			const withoutReview: Workflow = {
				states: workflow.states.filter((state) => state.key !== "in_review"),
				transitions: workflow.transitions.filter((move) => move.from !== "in_review" && move.to !== "in_review"),
				initial: "backlog",
			};
			const refused = await rest.put<ErrorBody>(url, withoutReview, amy.accessToken);
			expect(refused.status).toBe(409);
			expect(refused.body).toMatchObject({ type: "STATE_IN_USE", data: { states: { in_review: 1 } } });
			await rest.post(path(task, "/transition"), { to: "in_progress" }, amy.accessToken);
			expect((await rest.put(url, withoutReview, amy.accessToken)).status).toBe(200);
			const gone = await rest.post<ErrorBody>(path(task, "/transition"), { to: "in_review" }, amy.accessToken);
			expect(gone.body).toMatchObject({ type: "ILLEGAL_TRANSITION", data: { allowed: ["todo", "cancelled"] } });
		});
	});

	describe("lists", () => {
		let board: ProjectView;
		const ids: Record<string, number> = {};

		beforeAll(async () => {
			board = await createProject(rest, amy, { name: "Board", members: [bob.id, dan.id] });
			const specs: [string, Record<string, unknown>][] = [
				["a", { assigneeId: bob.id, labels: ["bug"], dueDate: "2030-01-10T00:00:00Z" }],
				["b", { assigneeId: dan.id, labels: ["bug", "ui"], dueDate: "2030-01-20T00:00:00Z" }],
				["c", { assigneeId: bob.id, labels: ["ui"] }],
				["d", { dueDate: "2030-01-05T00:00:00Z" }],
			];
			for (const [name, body] of specs) ids[name] = (await createTask(rest, amy, board.id, { title: `Task ${name}`, ...body })).id;
			await rest.post(`/api/v1/tasks/${ids.c}/transition`, { to: "todo" }, amy.accessToken);
		});

		const listed = async (query: string) => {
			const answer = await rest.get<{ items: TaskView[]; nextCursor: string | null }>(`/api/v1/projects/${board.id}/tasks${query}`, bob.accessToken);
			expect(answer.status).toBe(200);
			return answer.body.items.map((item) => item.id);
		};

		it("filters by status, assignee, label and due date, newest first", async () => {
			expect(await listed("")).toEqual([ids.d, ids.c, ids.b, ids.a]);
			expect(await listed("?status=backlog")).toEqual([ids.d, ids.b, ids.a]);
			expect(await listed(`?assigneeId=${bob.id}`)).toEqual([ids.c, ids.a]);
			expect(await listed("?label=bug")).toEqual([ids.b, ids.a]);
			expect(await listed("?label=BUG&status=backlog")).toEqual([ids.b, ids.a]);
			expect(await listed(`?dueBefore=${encodeURIComponent("2030-01-15T00:00:00Z")}`)).toEqual([ids.d, ids.a]);
			expect(await listed(`?label=ui&assigneeId=${bob.id}&status=todo`)).toEqual([ids.c]);
			expect(await listed("?label=nothing")).toEqual([]);
		});

		it.each([
			["a cursor that is not one", "?cursor=abc"],
			["a due date that is no date", "?dueBefore=soon"],
			["a limit beyond 100", "?limit=101"],
			["a status that is no state key", "?status=In%20Progress"],
			["an unknown filter", "?owner=1"],
		])("refuses %s with 422", async (_case, query) => {
			expect((await rest.get(`/api/v1/projects/${board.id}/tasks${query}`, bob.accessToken)).status).toBe(422);
		});

		it("pages with a cursor without gaps or repeats, also while tasks are added", async () => {
			const paged = await createProject(rest, amy, { name: "Paged" });
			const created: number[] = [];
			for (let i = 0; i < 23; i++) created.push((await createTask(rest, amy, paged.id, { title: `Item ${i}` })).id);
			const seen: number[] = [];
			let cursor: string | null = "";
			let pages = 0;
			while (cursor !== null) {
				const page: { items: TaskView[]; nextCursor: string | null } = (
					await rest.get<{ items: TaskView[]; nextCursor: string | null }>(`/api/v1/projects/${paged.id}/tasks?limit=5${cursor ? `&cursor=${cursor}` : ""}`, amy.accessToken)
				).body;
				seen.push(...page.items.map((item) => item.id));
				cursor = page.nextCursor;
				// Tasks created while paging come before the first page: they neither shift nor repeat later pages.
				if (++pages === 2) await createTask(rest, amy, paged.id, { title: "Late" });
			}
			expect(pages).toBe(5);
			expect(seen).toEqual([...created].reverse());
		});
	});

	describe("comments, activity and events", () => {
		it("keeps comments in order and logs them", async () => {
			const task = await createTask(rest, amy, project.id, { title: "Discuss" });
			const first = await rest.post<{ comment: CommentView }>(path(task, "/comments"), { text: "What about\nmobile?" }, bob.accessToken);
			expect(first.status).toBe(201);
			expect(first.body.comment).toMatchObject({ taskId: task.id, userId: bob.id, text: "What about\nmobile?" });
			await rest.post(path(task, "/comments"), { text: "Later." }, amy.accessToken);
			const listed = await rest.get<{ items: CommentView[] }>(path(task, "/comments"), cat.accessToken);
			expect(listed.body.items.map((comment) => [comment.userId, comment.text])).toEqual([
				[bob.id, "What about\nmobile?"],
				[amy.id, "Later."],
			]);
			expect((await rest.post(path(task, "/comments"), { text: "" }, bob.accessToken)).status).toBe(422);
			const log = await activityOf(task);
			expect(log.filter((entry) => entry.action === "commented").map((entry) => [entry.actorId, entry.after])).toEqual([
				[bob.id, { commentId: first.body.comment.id }],
				[amy.id, { commentId: listed.body.items[1].id }],
			]);
		});

		it("announces every change to the task's watchers: creator, assignee, commenters and who asked, less who declined", async () => {
			recorder.events.length = 0;
			const task = await createTask(rest, amy, project.id, { title: "Watched", assigneeId: bob.id });
			await until(() => recorder.named("tasks.task.assigned").length === 1, "the assignment is announced");
			expect(recorder.named<TaskCreatedEvent>("tasks.task.created")).toEqual([{ task, by: amy.id }]);
			expect(recorder.named<TaskAssignedEvent>("tasks.task.assigned")).toEqual([{ task, assigneeId: bob.id, previousAssigneeId: null, by: amy.id }]);

			await rest.post(path(task, "/comments"), { text: "On it" }, dan.accessToken);
			const watched = await rest.post<{ watching: boolean; watcherIds: number[] }>(path(task, "/watch"), {}, cat.accessToken);
			expect(watched.body).toMatchObject({ watching: true, watcherIds: [amy.id, bob.id, cat.id, dan.id].sort((x, y) => x - y) });
			await rest.request("DELETE", path(task, "/watch"), { token: bob.accessToken });
			const everyone = [amy.id, cat.id, dan.id].sort((x, y) => x - y);

			await rest.patch(path(task), { version: 1, priority: "urgent", assigneeId: dan.id }, amy.accessToken);
			await rest.post(path(task, "/transition"), { to: "todo" }, dan.accessToken);
			await rest.request("DELETE", path(task), { token: amy.accessToken });
			await until(() => recorder.named("tasks.task.deleted").length === 1, "the deletion is announced");

			const [commented] = recorder.named<TaskCommentedEvent>("tasks.comment.created");
			expect(commented).toMatchObject({ by: dan.id, comment: { text: "On it", userId: dan.id }, watcherIds: [amy.id, bob.id, dan.id].sort((x, y) => x - y) });
			const [updated] = recorder.named<TaskUpdatedEvent>("tasks.task.updated");
			expect(updated).toMatchObject({ by: amy.id, changes: ["priority", "assigneeId"], watcherIds: everyone, task: { priority: "urgent", version: 2 } });
			expect(updated.automatic).toBeUndefined();
			expect(recorder.named<TaskAssignedEvent>("tasks.task.assigned")[1]).toMatchObject({ assigneeId: dan.id, previousAssigneeId: bob.id, by: amy.id });
			expect(recorder.named<TaskTransitionedEvent>("tasks.task.transitioned")).toEqual([
				expect.objectContaining({ from: "backlog", to: "todo", by: dan.id, watcherIds: everyone, task: expect.objectContaining({ status: "todo", version: 3 }) }),
			]);
			expect(recorder.named<TaskDeletedEvent>("tasks.task.deleted")).toEqual([expect.objectContaining({ by: amy.id, task: expect.objectContaining({ id: task.id }) })]);
			expect(recorder.events.map((event) => event.name)).toEqual([
				"tasks.task.created",
				"tasks.task.assigned",
				"tasks.comment.created",
				"tasks.task.updated",
				"tasks.task.assigned",
				"tasks.task.transitioned",
				"tasks.task.deleted",
			]);
		});
	});
});

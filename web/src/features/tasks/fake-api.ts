// A stand-in for the REST client in the task screens' component tests: an in-memory project with the default
// workflow, answering as services/tasks does (versions, transitions, 404s). Tests swap single calls with vi.fn.
import { ColonyApiError, type NewProject, type NewTask, type PublicUser, type TaskChange, type TaskQuery } from "@colony/client";
import type { ActivityView, CommentView, ProjectView, TaskView, Workflow } from "@colony/types/tasks";
import { vi } from "vitest";
import { DEFAULT_WORKFLOW } from "../../../../services/tasks/workflow";

// jsdom has no FontFaceSet, which Mantine's autosizing Textarea listens to (src/test/setup.ts could carry this).
if (!("fonts" in document)) {
	Object.defineProperty(document, "fonts", { configurable: true, value: { addEventListener() {}, removeEventListener() {}, ready: Promise.resolve() } });
}

export const me: PublicUser = { id: 1, username: "ada", displayName: "Ada Lovelace", roles: ["member"], createdAt: "2025-01-01T00:00:00.000Z" };
const grace: PublicUser = { id: 2, username: "grace", displayName: "Grace Hopper", roles: ["member"], createdAt: "2025-01-01T00:00:00.000Z" };
const alan: PublicUser = { id: 3, username: "alan", displayName: "Alan Turing", roles: ["member"], createdAt: "2025-01-01T00:00:00.000Z" };

// The server's own default workflow: the fake moves tasks by the same rules.
export { DEFAULT_WORKFLOW };

export function makeTask(fields: Partial<TaskView> & { id: number; title: string }): TaskView {
	return {
		projectId: 1,
		description: null,
		status: "todo",
		priority: "none",
		assigneeId: null,
		labels: [],
		dueDate: null,
		version: 1,
		createdBy: me.id,
		createdAt: "2025-03-01T10:00:00.000Z",
		updatedAt: "2025-03-01T10:00:00.000Z",
		triage: null,
		...fields,
	};
}

interface World {
	users: PublicUser[];
	projects: ProjectView[];
	workflow: Workflow;
	tasks: TaskView[];
	comments: CommentView[];
	activity: ActivityView[];
}

export const world: World = { users: [], projects: [], workflow: DEFAULT_WORKFLOW, tasks: [], comments: [], activity: [] };

function notFound(what: string): never {
	throw new ColonyApiError(404, `${what.toUpperCase()}_NOT_FOUND`, `${what} not found`);
}

function taskOf(taskId: number): TaskView {
	return world.tasks.find((task) => task.id === taskId) ?? notFound("Task");
}

function save(task: TaskView, changes: Partial<TaskView>, sent?: number): TaskView {
	if (sent !== undefined && sent !== task.version) {
		throw new ColonyApiError(409, "VERSION_CONFLICT", `Task ${task.id} changed since version ${sent} (it is at version ${task.version})`, {
			taskId: task.id,
			sentVersion: sent,
			currentVersion: task.version,
		});
	}
	const next = { ...task, ...changes, version: task.version + 1, updatedAt: new Date().toISOString() };
	world.tasks = world.tasks.map((item) => (item.id === task.id ? next : item));
	return next;
}

export const api = {
	request: vi.fn(async (_method: string, path: string) => {
		if (path === "/users") return { items: world.users, nextCursor: null };
		return notFound("Route");
	}),
	listProjects: vi.fn(async () => world.projects),
	createProject: vi.fn(async (input: NewProject): Promise<ProjectView> => {
		const project: ProjectView = {
			id: world.projects.length + 1,
			name: input.name,
			description: input.description ?? null,
			createdBy: me.id,
			createdAt: new Date().toISOString(),
			members: [{ userId: me.id, role: "admin" }, ...(input.members ?? []).map((userId) => ({ userId, role: "member" as const }))],
			autoApplyTriage: input.autoApplyTriage ?? false,
		};
		world.projects.push(project);
		return project;
	}),
	getProject: vi.fn(async (projectId: number) => world.projects.find((project) => project.id === projectId) ?? notFound("Project")),
	getWorkflow: vi.fn(async (_projectId: number) => world.workflow),
	listTasks: vi.fn(async (projectId: number, query: TaskQuery = {}) => {
		const items = world.tasks
			.filter((task) => task.projectId === projectId)
			.filter((task) => query.status === undefined || task.status === query.status)
			.filter((task) => query.assigneeId === undefined || task.assigneeId === query.assigneeId)
			.filter((task) => query.label === undefined || task.labels.includes(query.label))
			.filter((task) => query.dueBefore === undefined || (task.dueDate !== null && task.dueDate < query.dueBefore))
			.filter((task) => query.cursor === undefined || task.id < Number(query.cursor))
			.sort((a, b) => b.id - a.id);
		const limit = query.limit ?? 50;
		const page = items.slice(0, limit);
		return { items: page, nextCursor: items.length > limit ? String(page[page.length - 1].id) : null };
	}),
	createTask: vi.fn(async (projectId: number, input: NewTask) => {
		const task = makeTask({
			id: Math.max(0, ...world.tasks.map((item) => item.id)) + 1,
			projectId,
			title: input.title,
			description: input.description ?? null,
			status: world.workflow.initial,
			priority: input.priority ?? "none",
			assigneeId: input.assigneeId ?? null,
			labels: input.labels ?? [],
			dueDate: input.dueDate ?? null,
			triage: { status: "pending", applied: false, similar: [] },
		});
		world.tasks.push(task);
		return task;
	}),
	getTask: vi.fn(async (taskId: number) => taskOf(taskId)),
	updateTask: vi.fn(async (taskId: number, change: TaskChange) => {
		const { version, ...fields } = change;
		return save(taskOf(taskId), fields as Partial<TaskView>, version);
	}),
	deleteTask: vi.fn(async (taskId: number) => {
		const task = taskOf(taskId);
		world.tasks = world.tasks.filter((item) => item.id !== taskId);
		return task;
	}),
	moveTask: vi.fn(async (taskId: number, to: string, version?: number) => {
		const task = taskOf(taskId);
		if (version !== undefined && version !== task.version) return save(task, {}, version);
		if (!world.workflow.transitions.some((transition) => transition.from === task.status && transition.to === to)) {
			const allowed = world.workflow.transitions.filter((transition) => transition.from === task.status).map((transition) => transition.to);
			throw new ColonyApiError(422, "ILLEGAL_TRANSITION", `A task in '${task.status}' cannot move to '${to}': it can go to ${allowed.join(", ")}`, { from: task.status, to, allowed });
		}
		return save(task, { status: to });
	}),
	comments: vi.fn(async (taskId: number) => world.comments.filter((comment) => comment.taskId === taskId)),
	addComment: vi.fn(async (taskId: number, text: string) => {
		const comment: CommentView = { id: world.comments.length + 1, taskId, userId: me.id, text, createdAt: new Date().toISOString() };
		world.comments.push(comment);
		return comment;
	}),
	activity: vi.fn(async (taskId: number) => world.activity.filter((entry) => entry.taskId === taskId)),
	watchTask: vi.fn(async (_taskId: number, watching = true) => (watching ? [me.id] : [])),
	applyTriage: vi.fn(async (taskId: number, version?: number) => {
		const task = taskOf(taskId);
		const triage = task.triage;
		if (!triage || triage.status !== "done" || !triage.priority) throw new ColonyApiError(409, "TRIAGE_NOT_READY", "The task has no triage suggestion to apply (yet)");
		return save(task, { priority: triage.priority, labels: [...new Set([...task.labels, ...(triage.labels ?? [])])], triage: { ...triage, applied: true } }, version);
	}),
};

/** A fresh world before each test: one project (Ada admin, Grace member), the default workflow, no tasks. */
export function resetWorld(): void {
	for (const fn of Object.values(api)) fn.mockClear();
	world.users = [me, grace, alan];
	world.projects = [
		{
			id: 1,
			name: "Apollo",
			description: "The moon landing software",
			createdBy: me.id,
			createdAt: "2025-01-01T00:00:00.000Z",
			members: [
				{ userId: me.id, role: "admin" },
				{ userId: grace.id, role: "member" },
			],
			autoApplyTriage: false,
		},
	];
	world.workflow = DEFAULT_WORKFLOW;
	world.tasks = [];
	world.comments = [];
	world.activity = [];
}

/** What `vi.mock("../../lib/session")` answers with. */
export const sessionModule = {
	api,
	useMe: () => me,
	useSession: () => ({ user: me, bridge: null, endedBecause: null }),
	useBridgeEvent: vi.fn(),
};

/**
 * jsdom lays nothing out: every box is empty, so Mantine hides a menu whose button "is not on screen" and dnd-kit
 * finds no column under a card. This gives the board's columns side by side (300 px apart), its cards inside
 * them, and everything else a small box on screen. Undone by `vi.restoreAllMocks()`.
 */
export function layOut(): void {
	const box = (left: number, top: number, width: number, height: number) =>
		({ x: left, y: top, left, top, width, height, right: left + width, bottom: top + height, toJSON: () => ({}) }) as DOMRect;
	vi.spyOn(Element.prototype, "getBoundingClientRect").mockImplementation(function (this: Element) {
		const board = this.closest('[aria-label="Board"]');
		const column = this.closest("section");
		if (board && column && board.contains(column)) {
			const left = 20 + [...board.children].indexOf(column) * 300;
			if (this === column) return box(left, 100, 288, 600);
			const item = this.closest("li");
			if (item && this.parentElement === item) return box(left + 12, 150 + [...item.parentElement!.children].indexOf(item) * 100, 264, 80);
		}
		// dnd-kit's drag overlay (and what it holds): fixed where the card was picked up.
		for (const node of [this, this.parentElement]) {
			const style = (node as HTMLElement | null)?.style;
			if (style?.position === "fixed" && style.top && style.left) return box(parseFloat(style.left), parseFloat(style.top), parseFloat(style.width), parseFloat(style.height));
		}
		return box(10, 10, 100, 20);
	});
	// The viewport, which floating menus are kept inside.
	vi.spyOn(document.documentElement, "clientWidth", "get").mockReturnValue(1280);
	vi.spyOn(document.documentElement, "clientHeight", "get").mockReturnValue(800);
}

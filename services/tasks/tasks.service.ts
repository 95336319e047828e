import { Errors, type Context, type ServiceSchema } from "moleculer";
import { Op, UniqueConstraintError, type Transaction } from "sequelize";
import { ConflictError, ForbiddenError, NotFoundError } from "../../broker/errors";
import { systemClock, type Clock } from "../../lib/clock";
import { intFromEnv } from "../../lib/config";
import { idParam, PLAIN_TEXT, PRINTABLE } from "../../lib/validation";
import { AiHostsMixin } from "../../mixins/ai-hosts.mixin";
import { createDbMixin, type DbServiceThis, type DbSettings } from "../../mixins/db.mixin";
import {
	TASK_PRIORITIES,
	type ActivityView,
	type CommentView,
	type ProjectRole,
	type ProjectView,
	type TaskAssignedEvent,
	type TaskCommentedEvent,
	type TaskCreatedEvent,
	type TaskDeletedEvent,
	type TaskDueSoonEvent,
	type TaskPriority,
	type TaskTransitionedEvent,
	type TaskUpdatedEvent,
	type TaskView,
	type TriageJob,
	type Workflow,
} from "../../types/tasks";
import type { CallerMeta, SessionUser } from "../../types/users";
import { saveTask, type ChangedField, type SavedTask, type TaskChanges } from "./changes";
import { IllegalTransitionError, UnprocessableError, VersionConflictError } from "./errors";
import { tasksMigrations } from "./migrations";
import { claimDueSoon, dueSoonCandidates, listTasks, tasksInStates, watcherIdsOf, writeLabels } from "./queries";
import { defineTasksTables, type ProjectMemberRow, type ProjectRow, type TaskRow, type TasksTables } from "./tables";
import { DEFAULT_TRIAGE_SETTINGS, normalizeLabels, TaskTriage, TRIAGE_JOBS, type QueueMessage, type TriageSettings } from "./triage";
import { activityView, commentView, fieldsOf, labelsOf, parseWorkflow, projectView, taskView, triageOf } from "./views";
import { checkTransition, DEFAULT_WORKFLOW, GUARD_ROLES, isClosed, normalizeWorkflow, STATE_CATEGORIES, STATE_KEY, workflowProblems } from "./workflow";

export interface TasksSettings extends DbSettings {
	/** `tasks.task.due_soon` goes out once a task's due date is this close. */
	dueSoonMs: number;
	/** How often due dates are checked and lost triage jobs queued again; 0: never by itself (tests call `checkDueDates`). */
	dueCheckMs: number;
	/** Where due dates are compared with the time: tests pass a `ManualClock`. */
	clock: Clock;
	triage: TriageSettings;
}

type Membership = Pick<ProjectMemberRow, "projectId" | "userId" | "role">;

interface TasksState {
	triageJobs: TaskTriage;
	scheduler?: NodeJS.Timeout;
	startupSweep?: NodeJS.Timeout;
	startedAt: number;
	/** The tick running now: ticks never overlap. */
	ticking?: Promise<void>;
}

interface TasksMethods {
	requireProject(projectId: number, caller: SessionUser): Promise<{ project: ProjectRow; member: Membership }>;
	requireTask(taskId: number, caller: SessionUser): Promise<{ task: TaskRow; project: ProjectRow; member: Membership }>;
	requireWriter(member: Membership): void;
	requireAdmin(member: Membership): void;
	requireAssignee(projectId: number, assigneeId: number | null | undefined): Promise<void>;
	membership(projectId: number, userId: number): Promise<Membership | null>;
	describeProject(project: ProjectRow): Promise<ProjectView>;
	readTask(taskId: number, transaction?: Transaction): Promise<TaskRow | null>;
	changeTask(task: TaskRow, changes: TaskChanges, caller: SessionUser, version: number | undefined, columns?: Parameters<typeof saveTask>[5]): Promise<SavedTask>;
	announceChange(ctx: TasksContext, saved: SavedTask, previousAssigneeId: number | null): Promise<void>;
	watcherIds(task: TaskRow): Promise<number[]>;
	checkDueDates(): Promise<number>;
	tick(): Promise<void>;
}

type TasksContext<P = unknown> = Context<P, CallerMeta>;

interface CreateTaskParams {
	projectId: number;
	title: string;
	description?: string;
	priority?: TaskPriority;
	assigneeId?: number;
	labels?: string[];
	dueDate?: Date;
}

interface UpdateTaskParams {
	id: number;
	version: number;
	title?: string;
	description?: string | null;
	priority?: TaskPriority;
	assigneeId?: number | null;
	labels?: string[];
	dueDate?: Date | null;
}

interface ListTasksParams {
	projectId: number;
	status?: string;
	assigneeId?: number;
	label?: string;
	dueBefore?: Date;
	cursor?: number;
	limit: number;
}

const id = idParam;
const version = { ...idParam };
const projectName = { type: "string", trim: true, min: 1, max: 120, pattern: PLAIN_TEXT } as const;
const longText = { type: "string", trim: true, max: 10_000, pattern: PRINTABLE } as const;
const title = { type: "string", trim: true, min: 1, max: 200, pattern: PLAIN_TEXT } as const;
const labels = { type: "array", max: 20, items: { type: "string", trim: true, min: 1, max: 50, pattern: PLAIN_TEXT } } as const;
const priority = { type: "enum", values: [...TASK_PRIORITIES] } as const;
const date = { type: "date", convert: true } as const;
const stateKey = { type: "string", pattern: STATE_KEY } as const;
const role = { type: "enum", values: ["admin", "member", "viewer"] } as const;
const workflowParams = {
	states: {
		type: "array",
		min: 1,
		max: 30,
		items: {
			type: "object",
			strict: true,
			props: { key: stateKey, name: { type: "string", trim: true, min: 1, max: 60, pattern: PLAIN_TEXT }, category: { type: "enum", values: [...STATE_CATEGORIES] } },
		},
	},
	transitions: {
		type: "array",
		max: 300,
		items: {
			type: "object",
			strict: true,
			props: { from: stateKey, to: stateKey, roles: { type: "array", optional: true, max: 2, items: { type: "enum", values: [...GUARD_ROLES] } } },
		},
	},
	initial: stateKey,
} as const;

/** Due dates, and dates to filter by, that every database can store. */
const EARLIEST_DATE = Date.UTC(1970, 0, 1);
const LATEST_DATE = Date.UTC(9999, 11, 31);
const DUE_BATCH = 200;
/** The durable queue connects after the services have started: the first sweep waits a moment for it. */
const STARTUP_SWEEP_DELAY_MS = 1_000;
const TRANSITION_ATTEMPTS = 3;

/** A date within what the databases store, or a 422 naming the field. */
function requireStorableDate(value: Date | null | undefined, field: string): void {
	if (value === null || value === undefined) return;
	const time = value.getTime();
	if (time < EARLIEST_DATE || time > LATEST_DATE) {
		throw new Errors.ValidationError(`${field} is out of range`, "VALIDATION_ERROR", [
			{ field, type: "dateRange", message: `The '${field}' field must be a date between 1970 and 9999.` },
		]);
	}
}

/**
 * Projects with members and roles, tasks in each project's workflow, comments, an activity log of every change,
 * due-date reminders, and the AI's triage of new tasks (DESIGN §3).
 */
const TasksService: ServiceSchema<TasksSettings, TasksMethods, TasksState & DbServiceThis<TasksTables>> = {
	name: "tasks",
	// It calls ai.*: the AI strategies on its node need the hosts' heartbeats.
	mixins: [createDbMixin({ database: "tasks", migrations: tasksMigrations, defineTables: defineTasksTables }), AiHostsMixin],
	settings: {
		rest: "/",
		dueSoonMs: intFromEnv(process.env.TASKS_DUE_SOON_MS, 24 * 3_600_000, "TASKS_DUE_SOON_MS"),
		dueCheckMs: intFromEnv(process.env.TASKS_DUE_CHECK_MS, 60_000, "TASKS_DUE_CHECK_MS"),
		clock: systemClock,
		triage: DEFAULT_TRIAGE_SETTINGS,
		// A clock is an object of this process, not something to announce to other nodes.
		$secureSettings: ["clock"],
	},

	actions: {
		listProjects: {
			rest: "GET /projects",
			access: "tasks:read",
			idempotent: true,
			params: { $$strict: true },
			async handler(ctx: TasksContext): Promise<{ items: ProjectView[] }> {
				const memberships = await this.tables.members.findAll({ where: { userId: ctx.meta.user.id }, attributes: ["projectId"] });
				const ids = memberships.map((row) => row.get({ plain: true }).projectId);
				if (ids.length === 0) return { items: [] };
				const rows = await this.tables.projects.findAll({ where: { id: { [Op.in]: ids } }, order: [["id", "ASC"]] });
				const members = await this.tables.members.findAll({ where: { projectId: { [Op.in]: ids } } });
				const byProject = new Map<number, ProjectMemberRow[]>();
				for (const member of members.map((row) => row.get({ plain: true }))) byProject.set(member.projectId, [...(byProject.get(member.projectId) ?? []), member]);
				return { items: rows.map((row) => row.get({ plain: true })).map((project) => projectView(project, byProject.get(project.id) ?? [])) };
			},
		},

		createProject: {
			rest: "POST /projects",
			access: "projects:create",
			idempotent: false,
			params: {
				$$strict: true,
				name: projectName,
				description: { ...longText, optional: true },
				members: { type: "array", items: id, max: 100, optional: true },
				autoApplyTriage: { type: "boolean", optional: true },
			},
			async handler(ctx: TasksContext<{ name: string; description?: string; members?: number[]; autoApplyTriage?: boolean }>) {
				const caller = ctx.meta.user;
				const others = [...new Set(ctx.params.members ?? [])].filter((userId) => userId !== caller.id);
				// Each one must exist: 404 from the users service otherwise.
				for (const userId of others) await ctx.call("users.get", { id: userId });
				const project = await this.transaction(async (transaction) => {
					const created = (
						await this.tables.projects.create(
							{
								name: ctx.params.name,
								description: ctx.params.description || null,
								workflow: JSON.stringify(DEFAULT_WORKFLOW),
								autoApplyTriage: ctx.params.autoApplyTriage ?? false,
								createdBy: caller.id,
							},
							{ transaction },
						)
					).get({ plain: true });
					const joinedAt = new Date();
					await this.tables.members.bulkCreate(
						[{ projectId: created.id, userId: caller.id, role: "admin" as ProjectRole, joinedAt }, ...others.map((userId) => ({ projectId: created.id, userId, role: "member" as ProjectRole, joinedAt }))],
						{ transaction },
					);
					return created;
				});
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/v1/projects/${project.id}`;
				return { project: await this.describeProject(project) };
			},
		},

		getProject: {
			rest: "GET /projects/:id",
			access: "tasks:read",
			idempotent: true,
			params: { $$strict: true, id },
			async handler(ctx: TasksContext<{ id: number }>) {
				const { project } = await this.requireProject(ctx.params.id, ctx.meta.user);
				return { project: await this.describeProject(project) };
			},
		},

		updateProject: {
			rest: "PATCH /projects/:id",
			access: "tasks:write",
			idempotent: true,
			params: {
				$$strict: true,
				id,
				name: { ...projectName, optional: true },
				description: { ...longText, optional: true, nullable: true },
				autoApplyTriage: { type: "boolean", optional: true },
			},
			async handler(ctx: TasksContext<{ id: number; name?: string; description?: string | null; autoApplyTriage?: boolean }>) {
				const { project, member } = await this.requireProject(ctx.params.id, ctx.meta.user);
				this.requireAdmin(member);
				const { name, description, autoApplyTriage } = ctx.params;
				const changes = {
					...(name !== undefined ? { name } : {}),
					...(description !== undefined ? { description: description || null } : {}),
					...(autoApplyTriage !== undefined ? { autoApplyTriage } : {}),
				};
				if (Object.keys(changes).length > 0) await this.tables.projects.update(changes, { where: { id: project.id } });
				return { project: await this.describeProject({ ...project, ...changes }) };
			},
		},

		addMember: {
			rest: "POST /projects/:id/members",
			access: "tasks:write",
			idempotent: true,
			params: { $$strict: true, id, userId: id, role: { ...role, optional: true } },
			async handler(ctx: TasksContext<{ id: number; userId: number; role?: ProjectRole }>) {
				const { project, member } = await this.requireProject(ctx.params.id, ctx.meta.user);
				this.requireAdmin(member);
				await ctx.call("users.get", { id: ctx.params.userId });
				const wanted = ctx.params.role;
				const added = this.transaction(async (transaction) => {
					// The admins are locked: two admins demoting each other at once leave one admin.
					const admins = await this.tables.members.findAll({ where: { projectId: project.id, role: "admin" }, lock: transaction.LOCK.UPDATE, transaction });
					const existing = (await this.tables.members.findOne({ where: { projectId: project.id, userId: ctx.params.userId }, transaction }))?.get({ plain: true });
					if (!existing) {
						await this.tables.members.create({ projectId: project.id, userId: ctx.params.userId, role: wanted ?? "member", joinedAt: new Date() }, { transaction });
						return;
					}
					if (wanted === undefined || wanted === existing.role) return;
					if (existing.role === "admin" && admins.length === 1) {
						throw new ConflictError("A project keeps at least one admin: make someone else admin first", "LAST_ADMIN");
					}
					await this.tables.members.update({ role: wanted }, { where: { projectId: project.id, userId: ctx.params.userId }, transaction });
				});
				await added.catch((err: unknown) => {
					// Added twice at once: the member is there, which is what was asked.
					if (!(err instanceof UniqueConstraintError)) throw err;
				});
				return { project: await this.describeProject(project) };
			},
		},

		removeMember: {
			rest: "DELETE /projects/:id/members/:userId",
			access: "tasks:read",
			idempotent: true,
			params: { $$strict: true, id, userId: id },
			async handler(ctx: TasksContext<{ id: number; userId: number }>) {
				const caller = ctx.meta.user;
				const { project, member } = await this.requireProject(ctx.params.id, caller);
				// Anyone may leave; only admins remove others.
				if (ctx.params.userId !== caller.id) this.requireAdmin(member);
				await this.transaction(async (transaction) => {
					const admins = await this.tables.members.findAll({ where: { projectId: project.id, role: "admin" }, lock: transaction.LOCK.UPDATE, transaction });
					const target = (await this.tables.members.findOne({ where: { projectId: project.id, userId: ctx.params.userId }, transaction }))?.get({ plain: true });
					if (!target) throw new NotFoundError(`User ${ctx.params.userId} is not a member of this project`, "MEMBER_NOT_FOUND", { userId: ctx.params.userId });
					if (target.role === "admin" && admins.length === 1) {
						throw new ConflictError("A project keeps at least one admin: make someone else admin first", "LAST_ADMIN");
					}
					await this.tables.members.destroy({ where: { projectId: project.id, userId: ctx.params.userId }, transaction });
				});
				return { project: await this.describeProject(project) };
			},
		},

		getWorkflow: {
			rest: "GET /projects/:id/workflow",
			access: "tasks:read",
			idempotent: true,
			params: { $$strict: true, id },
			async handler(ctx: TasksContext<{ id: number }>): Promise<{ workflow: Workflow }> {
				const { project } = await this.requireProject(ctx.params.id, ctx.meta.user);
				return { workflow: parseWorkflow(project) };
			},
		},

		setWorkflow: {
			rest: "PUT /projects/:id/workflow",
			access: "tasks:write",
			idempotent: true,
			params: { $$strict: true, id, ...workflowParams },
			async handler(ctx: TasksContext<Workflow & { id: number }>): Promise<{ workflow: Workflow }> {
				const { project, member } = await this.requireProject(ctx.params.id, ctx.meta.user);
				this.requireAdmin(member);
				const workflow = normalizeWorkflow(ctx.params);
				const problems = workflowProblems(workflow);
				if (problems.length > 0) throw new Errors.ValidationError("The workflow does not hold together", "VALIDATION_ERROR", problems);
				const kept = new Set(workflow.states.map((state) => state.key));
				const removed = parseWorkflow(project).states.map((state) => state.key).filter((key) => !kept.has(key));
				const inUse = await tasksInStates(this.tables, project.id, removed);
				if (inUse.size > 0) {
					const states = Object.fromEntries(inUse);
					throw new ConflictError(
						`Tasks are still in ${[...inUse.keys()].map((key) => `'${key}'`).join(", ")}: move them to another state before removing it`,
						"STATE_IN_USE",
						{ states },
					);
				}
				await this.tables.projects.update({ workflow: JSON.stringify(workflow) }, { where: { id: project.id } });
				return { workflow };
			},
		},

		listTasks: {
			rest: "GET /projects/:projectId/tasks",
			access: "tasks:read",
			socket: true,
			idempotent: true,
			params: {
				$$strict: true,
				projectId: id,
				status: { ...stateKey, optional: true },
				assigneeId: { ...id, optional: true },
				label: { type: "string", trim: true, lowercase: true, min: 1, max: 50, optional: true },
				dueBefore: { ...date, optional: true },
				cursor: { ...id, optional: true },
				limit: { type: "number", integer: true, min: 1, max: 100, convert: true, default: 50 },
			},
			async handler(ctx: TasksContext<ListTasksParams>): Promise<{ items: TaskView[]; nextCursor: string | null }> {
				const { project } = await this.requireProject(ctx.params.projectId, ctx.meta.user);
				const { status, assigneeId, label, dueBefore, cursor, limit } = ctx.params;
				requireStorableDate(dueBefore, "dueBefore");
				const rows = await listTasks(this.database, this.tables, { projectId: project.id, status, assigneeId, label, dueBefore, before: cursor, limit });
				const page = rows.slice(0, limit);
				return { items: page.map(taskView), nextCursor: rows.length > limit ? String(page[page.length - 1].id) : null };
			},
		},

		createTask: {
			rest: "POST /projects/:projectId/tasks",
			access: "tasks:write",
			socket: true,
			idempotent: false,
			params: {
				$$strict: true,
				projectId: id,
				title,
				description: { ...longText, optional: true },
				priority: { ...priority, optional: true },
				assigneeId: { ...id, optional: true },
				labels: { ...labels, optional: true },
				dueDate: { ...date, optional: true },
			},
			async handler(ctx: TasksContext<CreateTaskParams>) {
				const caller = ctx.meta.user;
				const { project, member } = await this.requireProject(ctx.params.projectId, caller);
				this.requireWriter(member);
				const { title: taskTitle, description, assigneeId, dueDate } = ctx.params;
				requireStorableDate(dueDate, "dueDate");
				await this.requireAssignee(project.id, assigneeId);
				const triage = this.settings.triage.enabled;
				const row = await this.transaction(async (transaction) => {
					const created = (
						await this.tables.tasks.create(
							{
								projectId: project.id,
								title: taskTitle,
								description: description || null,
								status: parseWorkflow(project).initial,
								priority: ctx.params.priority ?? "none",
								assigneeId: assigneeId ?? null,
								labels: JSON.stringify(normalizeLabels(ctx.params.labels ?? [])),
								dueDate: dueDate ?? null,
								version: 1,
								createdBy: caller.id,
								triageStatus: triage ? "pending" : null,
								triageQueuedAt: triage ? new Date() : null,
							},
							{ transaction },
						)
					).get({ plain: true });
					await writeLabels(this.tables, created, labelsOf(created), transaction);
					await this.tables.activity.create(
						{ taskId: created.id, projectId: project.id, actorId: caller.id, action: "created", before: null, after: JSON.stringify(fieldsOf(taskView(created))) },
						{ transaction },
					);
					return created;
				});
				const task = taskView(row);
				ctx.emit<TaskCreatedEvent>("tasks.task.created", { task, by: caller.id });
				if (task.assigneeId !== null) ctx.emit<TaskAssignedEvent>("tasks.task.assigned", { task, assigneeId: task.assigneeId, previousAssigneeId: null, by: caller.id });
				// Not awaited: a new task never waits on the queue, let alone on the AI.
				if (triage) void this.triageJobs.queue(row.id);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/v1/tasks/${task.id}`;
				return { task };
			},
		},

		getTask: {
			rest: "GET /tasks/:id",
			access: "tasks:read",
			socket: true,
			idempotent: true,
			params: { $$strict: true, id },
			async handler(ctx: TasksContext<{ id: number }>) {
				const { task } = await this.requireTask(ctx.params.id, ctx.meta.user);
				return { task: taskView(task) };
			},
		},

		updateTask: {
			rest: "PATCH /tasks/:id",
			access: "tasks:write",
			socket: true,
			// Made from a version: run again, it finds the version moved on and changes nothing.
			idempotent: true,
			params: {
				$$strict: true,
				id,
				version,
				title: { ...title, optional: true },
				description: { ...longText, optional: true, nullable: true },
				priority: { ...priority, optional: true },
				assigneeId: { ...id, optional: true, nullable: true },
				labels: { ...labels, optional: true },
				dueDate: { ...date, optional: true, nullable: true },
			},
			async handler(ctx: TasksContext<UpdateTaskParams>) {
				const caller = ctx.meta.user;
				const { task, member } = await this.requireTask(ctx.params.id, caller);
				this.requireWriter(member);
				const { version: sent, title: newTitle, description, priority: newPriority, assigneeId, labels: newLabels, dueDate } = ctx.params;
				requireStorableDate(dueDate, "dueDate");
				if (assigneeId !== undefined && assigneeId !== task.assigneeId) await this.requireAssignee(task.projectId, assigneeId);
				const changes: TaskChanges = {
					...(newTitle !== undefined ? { title: newTitle } : {}),
					...(description !== undefined ? { description: description || null } : {}),
					...(newPriority !== undefined ? { priority: newPriority } : {}),
					...(assigneeId !== undefined ? { assigneeId } : {}),
					...(newLabels !== undefined ? { labels: normalizeLabels(newLabels) } : {}),
					...(dueDate !== undefined ? { dueDate } : {}),
				};
				const saved = await this.changeTask(task, changes, caller, sent);
				await this.announceChange(ctx, saved, task.assigneeId);
				return { task: taskView(saved.row) };
			},
		},

		deleteTask: {
			rest: "DELETE /tasks/:id",
			access: "tasks:write",
			// A second run finds the task gone (404): nothing more is removed.
			idempotent: true,
			params: { $$strict: true, id },
			async handler(ctx: TasksContext<{ id: number }>) {
				const caller = ctx.meta.user;
				const { task, member } = await this.requireTask(ctx.params.id, caller);
				this.requireWriter(member);
				if (task.createdBy !== caller.id && member.role !== "admin") {
					throw new ForbiddenError("Only the task's creator or a project admin can delete it", "NOT_TASK_CREATOR");
				}
				// Deleted tasks stay as tombstones: their activity log and comments keep their meaning.
				const deleted = await this.transaction(async (transaction) => {
					const [updated] = await this.tables.tasks.update({ deletedAt: new Date() }, { where: { id: task.id, deletedAt: { [Op.is]: null } }, transaction });
					if (updated !== 1) return false;
					await this.tables.activity.create(
						{ taskId: task.id, projectId: task.projectId, actorId: caller.id, action: "deleted", before: JSON.stringify(fieldsOf(taskView(task))), after: null },
						{ transaction },
					);
					return true;
				});
				if (!deleted) throw new NotFoundError(`Task ${task.id} not found`, "TASK_NOT_FOUND", { id: task.id });
				const view = taskView(task);
				ctx.emit<TaskDeletedEvent>("tasks.task.deleted", { task: view, by: caller.id });
				return { task: view };
			},
		},

		transition: {
			rest: "POST /tasks/:id/transition",
			access: "tasks:write",
			socket: true,
			// Moving a task to the state it is in changes nothing.
			idempotent: true,
			params: { $$strict: true, id, to: stateKey, version: { ...version, optional: true } },
			async handler(ctx: TasksContext<{ id: number; to: string; version?: number }>) {
				const caller = ctx.meta.user;
				const { to } = ctx.params;
				for (let attempt = 1; ; attempt++) {
					const { task, project, member } = await this.requireTask(ctx.params.id, caller);
					this.requireWriter(member);
					if (ctx.params.version !== undefined && ctx.params.version !== task.version) throw new VersionConflictError(task.id, ctx.params.version, task.version);
					if (task.status === to) return { task: taskView(task) };
					const workflow = parseWorkflow(project);
					const check = checkTransition(workflow, task.status, to, member.role);
					if (!check.allowed && check.reason === "illegal") throw new IllegalTransitionError(task.status, to, check.allowedTargets);
					if (!check.allowed) {
						throw new ForbiddenError(`Only ${check.roles.join(" or ")} members may move a task from '${task.status}' to '${to}'`, "TRANSITION_FORBIDDEN", {
							from: task.status,
							to,
							roles: check.roles,
						});
					}
					// A task reopened gets its due-date reminder again.
					const columns = isClosed(workflow, task.status) && !isClosed(workflow, to) ? { dueNotifiedFor: null } : {};
					const saved = await this.transaction((transaction) => saveTask(this.tables, task, { status: to }, caller.id, transaction, columns));
					if (!saved) {
						// Changed meanwhile by someone else: the move is judged again from the state it is in now.
						if (ctx.params.version === undefined && attempt < TRANSITION_ATTEMPTS) continue;
						const current = await this.readTask(task.id);
						throw new VersionConflictError(task.id, ctx.params.version ?? task.version, current?.version ?? task.version);
					}
					const view = taskView(saved.row);
					ctx.emit<TaskTransitionedEvent>("tasks.task.transitioned", { task: view, from: task.status, to, by: caller.id, watcherIds: await this.watcherIds(saved.row) });
					return { task: view };
				}
			},
		},

		listComments: {
			rest: "GET /tasks/:id/comments",
			access: "tasks:read",
			socket: true,
			idempotent: true,
			params: { $$strict: true, id },
			async handler(ctx: TasksContext<{ id: number }>): Promise<{ items: CommentView[] }> {
				const { task } = await this.requireTask(ctx.params.id, ctx.meta.user);
				const rows = await this.tables.comments.findAll({ where: { taskId: task.id }, order: [["id", "ASC"]] });
				return { items: rows.map((row) => commentView(row.get({ plain: true }))) };
			},
		},

		addComment: {
			rest: "POST /tasks/:id/comments",
			access: "tasks:write",
			socket: true,
			idempotent: false,
			params: { $$strict: true, id, text: { ...longText, min: 1 } },
			async handler(ctx: TasksContext<{ id: number; text: string }>) {
				const caller = ctx.meta.user;
				const { task, member } = await this.requireTask(ctx.params.id, caller);
				this.requireWriter(member);
				const row = await this.transaction(async (transaction) => {
					const created = (await this.tables.comments.create({ taskId: task.id, userId: caller.id, text: ctx.params.text }, { transaction })).get({ plain: true });
					await this.tables.activity.create(
						{ taskId: task.id, projectId: task.projectId, actorId: caller.id, action: "commented", before: null, after: JSON.stringify({ commentId: created.id }) },
						{ transaction },
					);
					return created;
				});
				const comment = commentView(row);
				ctx.emit<TaskCommentedEvent>("tasks.comment.created", { task: taskView(task), comment, by: caller.id, watcherIds: await this.watcherIds(task) });
				ctx.meta.$statusCode = 201;
				return { comment };
			},
		},

		activity: {
			rest: "GET /tasks/:id/activity",
			access: "tasks:read",
			socket: true,
			idempotent: true,
			params: { $$strict: true, id },
			async handler(ctx: TasksContext<{ id: number }>): Promise<{ items: ActivityView[] }> {
				const { task } = await this.requireTask(ctx.params.id, ctx.meta.user);
				const rows = await this.tables.activity.findAll({ where: { taskId: task.id }, order: [["id", "ASC"]] });
				return { items: rows.map((row) => activityView(row.get({ plain: true }))) };
			},
		},

		watch: {
			rest: "POST /tasks/:id/watch",
			access: "tasks:read",
			idempotent: true,
			params: { $$strict: true, id },
			async handler(ctx: TasksContext<{ id: number }>) {
				const { task } = await this.requireTask(ctx.params.id, ctx.meta.user);
				await this.tables.watchers.upsert({ taskId: task.id, userId: ctx.meta.user.id, watching: true });
				return { taskId: task.id, watching: true, watcherIds: await this.watcherIds(task) };
			},
		},

		unwatch: {
			rest: "DELETE /tasks/:id/watch",
			access: "tasks:read",
			idempotent: true,
			params: { $$strict: true, id },
			async handler(ctx: TasksContext<{ id: number }>) {
				const { task } = await this.requireTask(ctx.params.id, ctx.meta.user);
				await this.tables.watchers.upsert({ taskId: task.id, userId: ctx.meta.user.id, watching: false });
				return { taskId: task.id, watching: false, watcherIds: await this.watcherIds(task) };
			},
		},

		applyTriage: {
			rest: "POST /tasks/:id/triage/apply",
			access: "tasks:write",
			// Applied once: a second run finds the suggestion applied and changes nothing.
			idempotent: true,
			params: { $$strict: true, id, version: { ...version, optional: true } },
			async handler(ctx: TasksContext<{ id: number; version?: number }>) {
				const caller = ctx.meta.user;
				const { task, member } = await this.requireTask(ctx.params.id, caller);
				this.requireWriter(member);
				const triage = triageOf(task);
				if (!triage || triage.status !== "done" || triage.priority === undefined) {
					throw new ConflictError("The task has no triage suggestion to apply (yet)", "TRIAGE_NOT_READY", { status: triage?.status ?? null });
				}
				if (triage.applied) return { task: taskView(task) };
				// By hand, the suggestion is taken as a whole: its priority, and its labels added to the task's.
				const merged = normalizeLabels([...labelsOf(task), ...(triage.labels ?? [])]).slice(0, 20);
				const { status: _status, ...stored } = triage;
				const saved = await this.changeTask(task, { priority: triage.priority, labels: merged }, caller, ctx.params.version, {
					triage: JSON.stringify({ ...stored, applied: true }),
				});
				await this.announceChange(ctx, saved, task.assigneeId);
				return { task: taskView(saved.row) };
			},
		},

		/** Announces the due dates that came close (`tasks.task.due_soon`); what the service's timer runs, for tests to call. */
		checkDueDates: {
			visibility: "public",
			idempotent: true,
			params: {},
			async handler(): Promise<{ announced: number }> {
				return { announced: await this.checkDueDates() };
			},
		},
	},

	methods: {
		async requireProject(projectId: number, caller: SessionUser) {
			const member = await this.membership(projectId, caller.id);
			const project = member ? (await this.tables.projects.findByPk(projectId))?.get({ plain: true }) : undefined;
			// Outsiders cannot tell a project they are not in from one that does not exist.
			if (!member || !project) throw new NotFoundError(`Project ${projectId} not found`, "PROJECT_NOT_FOUND", { id: projectId });
			return { project, member };
		},

		async requireTask(taskId: number, caller: SessionUser) {
			const task = await this.readTask(taskId);
			const member = task ? await this.membership(task.projectId, caller.id) : null;
			const project = task && member ? (await this.tables.projects.findByPk(task.projectId))?.get({ plain: true }) : undefined;
			if (!task || !member || !project) throw new NotFoundError(`Task ${taskId} not found`, "TASK_NOT_FOUND", { id: taskId });
			return { task, project, member };
		},

		requireWriter(member: Membership) {
			if (member.role === "viewer") throw new ForbiddenError("Viewers of a project can read its tasks, not change them", "PROJECT_READ_ONLY");
		},

		requireAdmin(member: Membership) {
			if (member.role !== "admin") throw new ForbiddenError("Only the project's admins can do this", "PROJECT_ADMIN_ONLY");
		},

		async requireAssignee(projectId: number, assigneeId: number | null | undefined) {
			if (assigneeId === null || assigneeId === undefined) return;
			if (!(await this.membership(projectId, assigneeId))) {
				throw new UnprocessableError(`User ${assigneeId} is not a member of this project`, "ASSIGNEE_NOT_MEMBER", { assigneeId });
			}
		},

		async membership(projectId: number, userId: number) {
			const row = await this.tables.members.findOne({ where: { projectId, userId }, attributes: ["projectId", "userId", "role"] });
			return row ? row.get({ plain: true }) : null;
		},

		async describeProject(project: ProjectRow) {
			const members = await this.tables.members.findAll({ where: { projectId: project.id }, attributes: ["userId", "role"] });
			return projectView(project, members.map((row) => row.get({ plain: true })));
		},

		async readTask(taskId: number, transaction?: Transaction) {
			const row = await this.tables.tasks.findByPk(taskId, { attributes: { exclude: ["embedding"] }, transaction });
			const task = row?.get({ plain: true });
			return task && task.deletedAt === null ? task : null;
		},

		/** Saves `changes` made from `version`: 409 when the task moved on since, with the version it is at. */
		async changeTask(task: TaskRow, changes: TaskChanges, caller: SessionUser, sent: number | undefined, columns = {}) {
			const from = sent ?? task.version;
			if (from !== task.version) throw new VersionConflictError(task.id, from, task.version);
			const saved = await this.transaction((transaction) => saveTask(this.tables, task, changes, caller.id, transaction, columns));
			if (saved) return saved;
			const current = await this.readTask(task.id);
			if (!current) throw new NotFoundError(`Task ${task.id} not found`, "TASK_NOT_FOUND", { id: task.id });
			throw new VersionConflictError(task.id, from, current.version);
		},

		async announceChange(ctx: TasksContext, saved: SavedTask, previousAssigneeId: number | null) {
			if (saved.changed.length === 0) return;
			const task = taskView(saved.row);
			const by = ctx.meta.user.id;
			ctx.emit<TaskUpdatedEvent>("tasks.task.updated", { task, changes: saved.changed as ChangedField[], by, watcherIds: await this.watcherIds(saved.row) });
			if (saved.changed.includes("assigneeId") && task.assigneeId !== null) {
				ctx.emit<TaskAssignedEvent>("tasks.task.assigned", { task, assigneeId: task.assigneeId, previousAssigneeId, by });
			}
		},

		watcherIds(task: TaskRow) {
			return watcherIdsOf(this.tables, task);
		},

		/**
		 * Announces each task whose due date came within `dueSoonMs` once per due date, claimed in one statement so
		 * that of several tasks nodes exactly one announces it. A finished task's is claimed without a word.
		 */
		async checkDueDates() {
			const limit = new Date(this.settings.clock.now() + this.settings.dueSoonMs);
			const workflows = new Map<number, Workflow>();
			let announced = 0;
			for (let batch = 0; batch < 50; batch++) {
				const candidates = await dueSoonCandidates(this.tables, limit, DUE_BATCH);
				for (const candidate of candidates) {
					if (!(await claimDueSoon(this.tables, candidate.id, limit))) continue;
					const task = await this.readTask(candidate.id);
					if (!task) continue;
					if (!workflows.has(task.projectId)) {
						const project = (await this.tables.projects.findByPk(task.projectId))?.get({ plain: true });
						workflows.set(task.projectId, project ? parseWorkflow(project) : DEFAULT_WORKFLOW);
					}
					if (isClosed(workflows.get(task.projectId)!, task.status)) continue;
					this.broker.emit<TaskDueSoonEvent>("tasks.task.due_soon", { task: taskView(task), watcherIds: await this.watcherIds(task) });
					announced += 1;
				}
				if (candidates.length < DUE_BATCH) break;
			}
			return announced;
		},

		async tick() {
			if (this.ticking) return this.ticking;
			this.ticking = (async () => {
				try {
					await this.checkDueDates();
					// Without a transporter the queue lives in this process: what it held before the start is gone.
					await this.triageJobs.sweep(Date.now(), this.broker.transit ? 0 : this.startedAt);
				} catch (err) {
					this.logger.warn(`The tasks timer failed this time: ${(err as Error).message}`);
				}
			})().finally(() => {
				this.ticking = undefined;
			});
			return this.ticking;
		},
	},

	channels: {
		[TRIAGE_JOBS]: {
			group: "tasks-triage",
			// Jobs a tasks node works on at once; each mostly waits on an AI host.
			maxInFlight: 32,
			// A job comes back when it could not be done (no AI host for an hour, the node stopping).
			maxRetries: 5,
			deadLettering: { enabled: true, queueName: `${TRIAGE_JOBS}.failed` },
			// A tasks node that died mid-job is noticed after 30 s without its keep-alive, and another takes the job.
			nats: { consumerOptions: { config: { ack_wait: 30_000 * 1_000_000 } } },
			handler(job: TriageJob, queued?: QueueMessage) {
				return this.triageJobs.run(job, queued);
			},
		},
	},

	created() {
		this.triageJobs = new TaskTriage(this, { ...DEFAULT_TRIAGE_SETTINGS, ...this.settings.triage });
	},

	started() {
		this.startedAt = Date.now();
		if (this.settings.dueCheckMs > 0) {
			this.scheduler = setInterval(() => void this.tick(), this.settings.dueCheckMs);
			this.scheduler.unref();
		}
		// Triages left pending by a node that stopped or a queue that was down are queued again.
		this.startupSweep = setTimeout(() => void this.tick(), STARTUP_SWEEP_DELAY_MS);
		this.startupSweep.unref();
	},

	async stopped() {
		clearInterval(this.scheduler);
		clearTimeout(this.startupSweep);
		this.triageJobs.stop();
		await this.ticking;
	},
};

export default TasksService;

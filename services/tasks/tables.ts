import { DataTypes, type Model, type ModelStatic, type Optional, type Sequelize } from "sequelize";
import type { ActivityAction, ProjectRole, TaskPriority } from "../../types/tasks";

export interface ProjectRow {
	id: number;
	name: string;
	description: string | null;
	/** The project's workflow as JSON (types/tasks.ts `Workflow`). */
	workflow: string;
	autoApplyTriage: boolean;
	createdBy: number;
	createdAt: Date;
	updatedAt: Date;
}

export interface ProjectMemberRow {
	projectId: number;
	userId: number;
	role: ProjectRole;
	joinedAt: Date;
}

export type TriageStatus = "pending" | "done";

export interface TaskRow {
	id: number;
	projectId: number;
	title: string;
	description: string | null;
	status: string;
	priority: TaskPriority;
	assigneeId: number | null;
	/** JSON array of the labels; `task_labels` holds them again, one row each, for filtering. */
	labels: string;
	dueDate: Date | null;
	/** The due date `tasks.task.due_soon` was sent for: a new due date differs from it and is announced again. */
	dueNotifiedFor: Date | null;
	version: number;
	createdBy: number;
	/** Absent (null) when triage is switched off for the service. */
	triageStatus: TriageStatus | null;
	/** The stored suggestion as JSON (`TriageView` without `status`), once triaged. */
	triage: string | null;
	/** When a triage job was last queued, or last known to be alive; null when none is known to exist. */
	triageQueuedAt: Date | null;
	/** The task's embedding (Float32, little-endian) and the model that made it: only vectors of one model compare. */
	embedding: Buffer | null;
	embeddingModel: string | null;
	createdAt: Date;
	updatedAt: Date;
	deletedAt: Date | null;
}

export interface TaskLabelRow {
	taskId: number;
	label: string;
	projectId: number;
}

export interface CommentRow {
	id: number;
	taskId: number;
	userId: number;
	text: string;
	createdAt: Date;
}

export interface ActivityRow {
	id: number;
	taskId: number;
	projectId: number;
	actorId: number | null;
	action: ActivityAction;
	/** JSON objects of the changed fields, as they were and as they became. */
	before: string | null;
	after: string | null;
	createdAt: Date;
}

/** Someone's own choice to follow a task (`watching: true`) or not to (`false`, which beats being its creator, assignee or a commenter). */
export interface WatcherRow {
	taskId: number;
	userId: number;
	watching: boolean;
}

type ProjectModel = Model<ProjectRow, Optional<ProjectRow, "id" | "createdAt" | "updatedAt">>;
type ProjectMemberModel = Model<ProjectMemberRow, ProjectMemberRow>;
type TaskModel = Model<
	TaskRow,
	Optional<TaskRow, "id" | "dueNotifiedFor" | "triage" | "triageQueuedAt" | "embedding" | "embeddingModel" | "createdAt" | "updatedAt" | "deletedAt">
>;
type TaskLabelModel = Model<TaskLabelRow, TaskLabelRow>;
type CommentModel = Model<CommentRow, Optional<CommentRow, "id" | "createdAt">>;
type ActivityModel = Model<ActivityRow, Optional<ActivityRow, "id" | "createdAt">>;
type WatcherModel = Model<WatcherRow, WatcherRow>;

export interface TasksTables {
	projects: ModelStatic<ProjectModel>;
	members: ModelStatic<ProjectMemberModel>;
	tasks: ModelStatic<TaskModel>;
	labels: ModelStatic<TaskLabelModel>;
	comments: ModelStatic<CommentModel>;
	activity: ModelStatic<ActivityModel>;
	watchers: ModelStatic<WatcherModel>;
}

export function defineTasksTables(db: Sequelize): TasksTables {
	return {
		projects: db.define<ProjectModel, Omit<ProjectRow, "createdAt" | "updatedAt">>(
			"project",
			{
				id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
				name: { type: DataTypes.STRING(120), allowNull: false },
				description: { type: DataTypes.TEXT, allowNull: true },
				workflow: { type: DataTypes.TEXT, allowNull: false },
				autoApplyTriage: { type: DataTypes.BOOLEAN, allowNull: false },
				createdBy: { type: DataTypes.INTEGER, allowNull: false },
			},
			{ tableName: "projects" },
		),
		members: db.define<ProjectMemberModel>(
			"projectMember",
			{
				projectId: { type: DataTypes.INTEGER, primaryKey: true },
				userId: { type: DataTypes.INTEGER, primaryKey: true },
				role: { type: DataTypes.STRING(16), allowNull: false },
				joinedAt: { type: DataTypes.DATE, allowNull: false },
			},
			{ tableName: "project_members", timestamps: false },
		),
		tasks: db.define<TaskModel, Omit<TaskRow, "createdAt" | "updatedAt">>(
			"task",
			{
				id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
				projectId: { type: DataTypes.INTEGER, allowNull: false },
				title: { type: DataTypes.STRING(200), allowNull: false },
				description: { type: DataTypes.TEXT, allowNull: true },
				status: { type: DataTypes.STRING(40), allowNull: false },
				priority: { type: DataTypes.STRING(16), allowNull: false },
				assigneeId: { type: DataTypes.INTEGER, allowNull: true },
				labels: { type: DataTypes.TEXT, allowNull: false },
				dueDate: { type: DataTypes.DATE(3), allowNull: true },
				dueNotifiedFor: { type: DataTypes.DATE(3), allowNull: true },
				version: { type: DataTypes.INTEGER, allowNull: false },
				createdBy: { type: DataTypes.INTEGER, allowNull: false },
				triageStatus: { type: DataTypes.STRING(16), allowNull: true },
				triage: { type: DataTypes.TEXT, allowNull: true },
				triageQueuedAt: { type: DataTypes.DATE, allowNull: true },
				embedding: { type: DataTypes.BLOB, allowNull: true },
				embeddingModel: { type: DataTypes.STRING(200), allowNull: true },
				deletedAt: { type: DataTypes.DATE, allowNull: true },
			},
			{ tableName: "tasks" },
		),
		labels: db.define<TaskLabelModel>(
			"taskLabel",
			{
				taskId: { type: DataTypes.INTEGER, primaryKey: true },
				label: { type: DataTypes.STRING(50), primaryKey: true },
				projectId: { type: DataTypes.INTEGER, allowNull: false },
			},
			{ tableName: "task_labels", timestamps: false },
		),
		comments: db.define<CommentModel, Omit<CommentRow, "createdAt">>(
			"taskComment",
			{
				id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
				taskId: { type: DataTypes.INTEGER, allowNull: false },
				userId: { type: DataTypes.INTEGER, allowNull: false },
				text: { type: DataTypes.TEXT, allowNull: false },
			},
			{ tableName: "task_comments", updatedAt: false },
		),
		activity: db.define<ActivityModel, Omit<ActivityRow, "createdAt">>(
			"taskActivity",
			{
				id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
				taskId: { type: DataTypes.INTEGER, allowNull: false },
				projectId: { type: DataTypes.INTEGER, allowNull: false },
				actorId: { type: DataTypes.INTEGER, allowNull: true },
				action: { type: DataTypes.STRING(16), allowNull: false },
				before: { type: DataTypes.TEXT, allowNull: true },
				after: { type: DataTypes.TEXT, allowNull: true },
			},
			{ tableName: "task_activity", updatedAt: false },
		),
		watchers: db.define<WatcherModel>(
			"taskWatcher",
			{
				taskId: { type: DataTypes.INTEGER, primaryKey: true },
				userId: { type: DataTypes.INTEGER, primaryKey: true },
				watching: { type: DataTypes.BOOLEAN, allowNull: false },
			},
			{ tableName: "task_watchers", timestamps: false },
		),
	};
}

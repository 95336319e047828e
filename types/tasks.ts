/** The tasks service's contract (DESIGN §3, §4): projects, workflows, tasks, comments, activity, and its events. */

export type TaskPriority = "urgent" | "high" | "medium" | "low" | "none";
export const TASK_PRIORITIES: readonly TaskPriority[] = ["urgent", "high", "medium", "low", "none"];

/** A member's role in one project: admins change the project, its members and its workflow. */
export type ProjectRole = "admin" | "member" | "viewer";

/** What a workflow state means, whatever a project calls it (as Plane's state groups). */
export type StateCategory = "backlog" | "unstarted" | "started" | "completed" | "cancelled";

export interface WorkflowState {
	/** Stable id used in `status` and transitions, e.g. `in_progress`. */
	key: string;
	name: string;
	category: StateCategory;
}

export interface WorkflowTransition {
	from: string;
	to: string;
	/** Project roles that may make this move; absent: any member who may edit tasks. */
	roles?: ProjectRole[];
}

export interface Workflow {
	states: WorkflowState[];
	transitions: WorkflowTransition[];
	/** The state new tasks start in. */
	initial: string;
}

export interface ProjectMemberView {
	userId: number;
	role: ProjectRole;
}

export interface ProjectView {
	id: number;
	name: string;
	description: string | null;
	createdBy: number;
	createdAt: string;
	members: ProjectMemberView[];
	/** Whether the AI's triage suggestions are applied to new tasks by themselves. */
	autoApplyTriage: boolean;
}

export interface SimilarTask {
	taskId: number;
	title: string;
	/** Cosine similarity of the two tasks' embeddings, 1 at best. */
	score: number;
}

/** The AI's suggestion for a task, filled in asynchronously after the task is created. */
export interface TriageView {
	status: "pending" | "done";
	category?: string;
	priority?: TaskPriority;
	labels?: string[];
	/** 0..1, as the model reported it. */
	confidence?: number;
	/** Whether the suggestion was applied to the task (by the project's choice or by a member). */
	applied: boolean;
	/** Up to three existing tasks of the project that look like this one: likely duplicates. */
	similar: SimilarTask[];
	at?: string;
}

export interface TaskView {
	id: number;
	projectId: number;
	title: string;
	description: string | null;
	/** A state key of the project's workflow. */
	status: string;
	priority: TaskPriority;
	assigneeId: number | null;
	labels: string[];
	/** ISO 8601 date-time, or null. */
	dueDate: string | null;
	/** Sent back with every update: an update with an older version is refused with 409. */
	version: number;
	createdBy: number;
	createdAt: string;
	updatedAt: string;
	triage: TriageView | null;
}

export interface CommentView {
	id: number;
	taskId: number;
	userId: number;
	text: string;
	createdAt: string;
}

export type ActivityAction = "created" | "updated" | "assigned" | "transitioned" | "commented" | "triaged" | "deleted";

export interface ActivityView {
	id: number;
	taskId: number;
	/** Who did it; null for the platform itself (e.g. the AI's triage). */
	actorId: number | null;
	action: ActivityAction;
	/** The fields that changed, as they were and as they became. */
	before: Record<string, unknown> | null;
	after: Record<string, unknown> | null;
	createdAt: string;
}

/** Domain events (`tasks.<entity>.<verb>`), for notifications and whoever else listens. */
export interface TaskCreatedEvent {
	task: TaskView;
	by: number;
}

export interface TaskAssignedEvent {
	task: TaskView;
	assigneeId: number;
	previousAssigneeId: number | null;
	by: number;
}

/** The people who follow a task: its creator, its assignee, whoever commented on it or asked to watch it. */
interface Watched {
	watcherIds: number[];
}

export interface TaskTransitionedEvent extends Watched {
	task: TaskView;
	from: string;
	to: string;
	by: number;
}

export interface TaskUpdatedEvent extends Watched {
	task: TaskView;
	changes: string[];
	by: number;
	/**
	 * Set when the platform made the change by itself (the AI's triage, applied because the project opted in);
	 * `by` is then the task's creator, in whose name the triage ran.
	 */
	automatic?: true;
}

export interface TaskCommentedEvent extends Watched {
	task: TaskView;
	comment: CommentView;
	by: number;
}

/** Emitted once per task and due date, when the due date comes within the tasks service's `dueSoonMs`. */
export interface TaskDueSoonEvent extends Watched {
	task: TaskView;
}

export interface TaskDeletedEvent {
	task: TaskView;
	by: number;
}

/** A job on the tasks service's durable queue (`tasks.triage.jobs`): triage this task with the AI. */
export interface TriageJob {
	taskId: number;
}

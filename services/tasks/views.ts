import type { ActivityView, CommentView, ProjectMemberView, ProjectView, TaskView, TriageView, Workflow } from "../../types/tasks";
import type { ActivityRow, CommentRow, ProjectMemberRow, ProjectRow, TaskRow } from "./tables";

/** The stored part of a triage: everything but its status, which has a column of its own. */
export type StoredTriage = Omit<TriageView, "status">;

function iso(date: Date | string | null): string | null {
	return date === null ? null : new Date(date).toISOString();
}

export function parseWorkflow(row: Pick<ProjectRow, "workflow">): Workflow {
	return JSON.parse(row.workflow) as Workflow;
}

export function projectView(row: ProjectRow, members: Pick<ProjectMemberRow, "userId" | "role">[]): ProjectView {
	return {
		id: row.id,
		name: row.name,
		description: row.description,
		createdBy: row.createdBy,
		createdAt: new Date(row.createdAt).toISOString(),
		members: members.map(({ userId, role }): ProjectMemberView => ({ userId, role })).sort((a, b) => a.userId - b.userId),
		// MariaDB answers a BOOLEAN column as 0 or 1.
		autoApplyTriage: Boolean(row.autoApplyTriage),
	};
}

export function labelsOf(row: Pick<TaskRow, "labels">): string[] {
	return JSON.parse(row.labels) as string[];
}

export function triageOf(row: Pick<TaskRow, "triageStatus" | "triage">): TriageView | null {
	if (row.triageStatus === null) return null;
	const stored: StoredTriage = row.triage ? (JSON.parse(row.triage) as StoredTriage) : { applied: false, similar: [] };
	return { status: row.triageStatus, ...stored };
}

export function taskView(row: TaskRow): TaskView {
	return {
		id: row.id,
		projectId: row.projectId,
		title: row.title,
		description: row.description,
		status: row.status,
		priority: row.priority,
		assigneeId: row.assigneeId,
		labels: labelsOf(row),
		dueDate: iso(row.dueDate),
		version: row.version,
		createdBy: row.createdBy,
		createdAt: new Date(row.createdAt).toISOString(),
		updatedAt: new Date(row.updatedAt).toISOString(),
		triage: triageOf(row),
	};
}

export function commentView(row: CommentRow): CommentView {
	return { id: row.id, taskId: row.taskId, userId: row.userId, text: row.text, createdAt: new Date(row.createdAt).toISOString() };
}

export function activityView(row: ActivityRow): ActivityView {
	return {
		id: row.id,
		taskId: row.taskId,
		actorId: row.actorId,
		action: row.action,
		before: row.before === null ? null : (JSON.parse(row.before) as Record<string, unknown>),
		after: row.after === null ? null : (JSON.parse(row.after) as Record<string, unknown>),
		createdAt: new Date(row.createdAt).toISOString(),
	};
}

/** The fields of a task that the activity log and `changes` speak of, as clients see them. */
export type TaskFields = Pick<TaskView, "title" | "description" | "status" | "priority" | "assigneeId" | "labels" | "dueDate">;

export function fieldsOf(view: TaskView): TaskFields {
	const { title, description, status, priority, assigneeId, labels, dueDate } = view;
	return { title, description, status, priority, assigneeId, labels, dueDate };
}

import type { PublicUser, TaskQuery } from "@colony/client";
import type { ProjectRole, ProjectView, TaskPriority, TaskView, Workflow, WorkflowState } from "@colony/types/tasks";

/** Highest first, as Plane and Linear list them; "none" last. */
export const PRIORITY_ORDER: readonly TaskPriority[] = ["urgent", "high", "medium", "low", "none"];

export const PRIORITY_LABELS: Record<TaskPriority, string> = {
	urgent: "Urgent",
	high: "High",
	medium: "Medium",
	low: "Low",
	none: "No priority",
};

/** The colour of the small mark next to a priority's name (the name itself says it: colour is never the only cue). */
export const PRIORITY_COLORS: Record<TaskPriority, string> = {
	urgent: "red",
	high: "orange",
	medium: "yellow",
	low: "blue",
	none: "gray",
};

export const PRIORITY_OPTIONS = PRIORITY_ORDER.map((value) => ({ value, label: PRIORITY_LABELS[value] }));

/** Whether the platform lets this person write at all (`tasks:write`, `projects:create`): guests only read. */
export function mayWriteTasks(user: Pick<PublicUser, "roles">): boolean {
	return user.roles.some((role) => role === "admin" || role === "member");
}

/**
 * The caller's role in a project as far as tasks go: a guest member only reads, whatever the project says.
 * null when they are not a member (the server would answer 404).
 */
export function roleOf(project: ProjectView | undefined, user: Pick<PublicUser, "id" | "roles">): ProjectRole | null {
	const role = project?.members.find((member) => member.userId === user.id)?.role ?? null;
	return role && !mayWriteTasks(user) ? "viewer" : role;
}

export function canWrite(role: ProjectRole | null): boolean {
	return role === "admin" || role === "member";
}

export function stateOf(workflow: Workflow | undefined, key: string): WorkflowState | undefined {
	return workflow?.states.find((state) => state.key === key);
}

export function stateName(workflow: Workflow | undefined, key: string): string {
	return stateOf(workflow, key)?.name ?? key;
}

/**
 * The states a task in `from` may move to for a member with `role`, in the workflow's order: what the server's
 * `checkTransition` allows (services/tasks/workflow.ts). Viewers move nothing.
 */
export function allowedTargets(workflow: Workflow | undefined, from: string, role: ProjectRole | null): WorkflowState[] {
	if (!workflow || !canWrite(role)) return [];
	const keys = new Set(
		workflow.transitions
			.filter((transition) => transition.from === from && transition.to !== from && (!transition.roles || transition.roles.length === 0 || transition.roles.includes(role!)))
			.map((transition) => transition.to),
	);
	return workflow.states.filter((state) => keys.has(state.key));
}

export function isClosedState(workflow: Workflow | undefined, key: string): boolean {
	const category = stateOf(workflow, key)?.category;
	return category === "completed" || category === "cancelled";
}

/** Board filters, as kept in the URL query (`?assignee=3&label=bug&status=todo&due=2025-06-30`). */
export interface BoardFilters {
	assigneeId?: number;
	label?: string;
	status?: string;
	/** YYYY-MM-DD: tasks due before the start of that day. */
	due?: string;
}

export function readFilters(params: URLSearchParams): BoardFilters {
	const filters: BoardFilters = {};
	const assignee = Number(params.get("assignee"));
	if (Number.isInteger(assignee) && assignee > 0) filters.assigneeId = assignee;
	const label = params.get("label")?.trim().toLowerCase();
	if (label) filters.label = label;
	const status = params.get("status");
	if (status) filters.status = status;
	const due = params.get("due");
	if (due && /^\d{4}-\d{2}-\d{2}$/.test(due)) filters.due = due;
	return filters;
}

/** The filters of one column's query: the column is the status. */
export type ColumnFilters = Omit<BoardFilters, "status">;

export function columnFilters(filters: BoardFilters): ColumnFilters {
	const { status: _status, ...rest } = filters;
	return rest;
}

export function taskQuery(filters: ColumnFilters): TaskQuery {
	return {
		...(filters.assigneeId !== undefined ? { assigneeId: filters.assigneeId } : {}),
		...(filters.label ? { label: filters.label } : {}),
		...(filters.due ? { dueBefore: startOfDay(filters.due) } : {}),
	};
}

/** Whether a task belongs in a column listed with these filters (to place it there before the server says so). */
export function matchesFilters(task: TaskView, filters: ColumnFilters): boolean {
	if (filters.assigneeId !== undefined && task.assigneeId !== filters.assigneeId) return false;
	if (filters.label && !task.labels.includes(filters.label)) return false;
	if (filters.due && (!task.dueDate || new Date(task.dueDate).getTime() >= new Date(startOfDay(filters.due)).getTime())) return false;
	return true;
}

function localDate(day: string, endOfDay: boolean): Date {
	const [year, month, date] = day.split("-").map(Number);
	return endOfDay ? new Date(year, month - 1, date, 23, 59, 59, 999) : new Date(year, month - 1, date);
}

/** The start of a local day (YYYY-MM-DD) as ISO 8601. */
export function startOfDay(day: string): string {
	return localDate(day, false).toISOString();
}

/** A due date picked as a day means "by the end of that day", local time. */
export function dueDateFromInput(day: string): string | null {
	return day ? localDate(day, true).toISOString() : null;
}

/** The local day (YYYY-MM-DD) of an ISO date-time, for a date input. */
export function dateInputValue(iso: string | null): string {
	if (!iso) return "";
	const date = new Date(iso);
	if (Number.isNaN(date.getTime())) return "";
	const pad = (n: number) => String(n).padStart(2, "0");
	return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function formatDay(iso: string): string {
	return dayFormat.format(new Date(iso));
}

export function formatTime(iso: string): string {
	return timeFormat.format(new Date(iso));
}

export function isOverdue(task: TaskView, workflow: Workflow | undefined, now = Date.now()): boolean {
	return task.dueDate !== null && new Date(task.dueDate).getTime() < now && !isClosedState(workflow, task.status);
}

export function percent(fraction: number): string {
	return `${Math.round(Math.max(0, Math.min(1, fraction)) * 100)}%`;
}

/** Labels as the server keeps them: trimmed, lower case, once each. */
export function normalizeLabels(labels: readonly string[]): string[] {
	return [...new Set(labels.map((label) => label.trim().toLowerCase()).filter(Boolean))];
}

/** A task's id from a notification's link (`/tasks/12`, `/tasks/12?comment=3`); null for other links. */
export function taskIdFromLink(link: string | null | undefined): number | null {
	const match = link ? /^\/tasks\/(\d+)(?:[/?#]|$)/.exec(link) : null;
	return match ? Number(match[1]) : null;
}

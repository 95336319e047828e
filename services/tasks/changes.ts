import { Op, type Transaction } from "sequelize";
import type { ActivityAction, TaskPriority } from "../../types/tasks";
import { writeLabels } from "./queries";
import type { ActivityRow, TaskRow, TasksTables } from "./tables";
import { fieldsOf, taskView, type TaskFields } from "./views";

/** What a change may set on a task, as clients send it (labels as a list, the due date as a date). */
export interface TaskChanges {
	title?: string;
	description?: string | null;
	status?: string;
	priority?: TaskPriority;
	assigneeId?: number | null;
	labels?: string[];
	dueDate?: Date | null;
}

export type ChangedField = keyof TaskFields;

type NewActivity = Omit<ActivityRow, "id" | "createdAt">;

/** The fields `changes` really changes on `current`; a value equal to the current one is no change. */
export function changedFields(current: TaskRow, changes: TaskChanges): ChangedField[] {
	const before = fieldsOf(taskView(current));
	const after = fieldsAfter(before, changes);
	return (Object.keys(after) as ChangedField[]).filter((field) => JSON.stringify(before[field]) !== JSON.stringify(after[field]));
}

function fieldsAfter(before: TaskFields, changes: TaskChanges): TaskFields {
	const after: TaskFields = { ...before };
	if (changes.title !== undefined) after.title = changes.title;
	if (changes.description !== undefined) after.description = changes.description;
	if (changes.status !== undefined) after.status = changes.status;
	if (changes.priority !== undefined) after.priority = changes.priority;
	if (changes.assigneeId !== undefined) after.assigneeId = changes.assigneeId;
	if (changes.labels !== undefined) after.labels = changes.labels;
	if (changes.dueDate !== undefined) after.dueDate = changes.dueDate === null ? null : changes.dueDate.toISOString();
	return after;
}

/**
 * The activity rows that record a change: a move between states is `transitioned`, a new assignee `assigned`,
 * anything else `updated`, each with the fields as they were and as they became.
 */
export function activityOf(task: Pick<TaskRow, "id" | "projectId">, before: TaskFields, after: TaskFields, fields: ChangedField[], actorId: number | null): NewActivity[] {
	const groups: [ActivityAction, ChangedField[]][] = [
		["transitioned", fields.filter((field) => field === "status")],
		["assigned", fields.filter((field) => field === "assigneeId")],
		["updated", fields.filter((field) => field !== "status" && field !== "assigneeId")],
	];
	return groups
		.filter(([, group]) => group.length > 0)
		.map(([action, group]) => ({
			taskId: task.id,
			projectId: task.projectId,
			actorId,
			action,
			before: JSON.stringify(pick(before, group)),
			after: JSON.stringify(pick(after, group)),
		}));
}

function pick(fields: TaskFields, names: ChangedField[]): Partial<TaskFields> {
	return Object.fromEntries(names.map((name) => [name, fields[name]]));
}

export interface SavedTask {
	row: TaskRow;
	changed: ChangedField[];
}

/**
 * Writes `changes` over `current` in `transaction` if the task is still at `current.version`: the row with its
 * next version, its labels and the activity rows, together. `columns` are written along (bookkeeping that is no
 * change a user made: no version of its own). Answers null when another change got there first.
 */
export async function saveTask(
	tables: TasksTables,
	current: TaskRow,
	changes: TaskChanges,
	actorId: number | null,
	transaction: Transaction,
	columns: Partial<Pick<TaskRow, "triage" | "dueNotifiedFor" | "deletedAt">> = {},
): Promise<SavedTask | null> {
	const changed = changedFields(current, changes);
	if (changed.length === 0 && Object.keys(columns).length === 0) return { row: current, changed };
	const values: Partial<TaskRow> = { ...columns };
	for (const field of changed) {
		if (field === "labels") values.labels = JSON.stringify(changes.labels);
		else if (field === "dueDate") values.dueDate = changes.dueDate ?? null;
		else Object.assign(values, { [field]: changes[field] });
	}
	if (changed.length > 0) values.version = current.version + 1;
	// Compared and written in one statement: of two changes made from the same version, exactly one succeeds.
	const [updated] = await tables.tasks.update(values, {
		where: { id: current.id, version: current.version, deletedAt: { [Op.is]: null } },
		transaction,
	});
	if (updated !== 1) return null;
	if (changed.includes("labels")) await writeLabels(tables, current, changes.labels ?? [], transaction);
	const before = fieldsOf(taskView(current));
	const after = fieldsAfter(before, changes);
	const rows = activityOf(current, before, after, changed, actorId);
	if (rows.length > 0) await tables.activity.bulkCreate(rows, { transaction });
	const row = (await tables.tasks.findByPk(current.id, { attributes: { exclude: ["embedding"] }, transaction }))!.get({ plain: true });
	return { row, changed };
}

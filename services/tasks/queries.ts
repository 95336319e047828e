import { col, Op, where, type Sequelize, type Transaction, type WhereOptions } from "sequelize";
import { fromFloat32Blob } from "../../lib/vector/float32-blob";
import { unitVector } from "../../lib/vector/vector-index";
import type { SimilarTask } from "../../types/tasks";
import type { TaskRow, TasksTables } from "./tables";

export interface TaskFilter {
	projectId: number;
	status?: string;
	assigneeId?: number;
	label?: string;
	dueBefore?: Date;
	/** Only tasks older (by id) than this one: the cursor of the previous page. */
	before?: number;
	limit: number;
}

/** Rows read per query when a whole project's vectors are compared. */
const VECTOR_PAGE = 500;

/**
 * A page of a project's tasks, newest first. Paging by id keeps pages free of gaps and repeats while tasks are
 * added (they come before the first page) or changed (their id stays). Answers one row more than asked when
 * there is a next page.
 */
export async function listTasks(db: Sequelize, tables: TasksTables, filter: TaskFilter): Promise<TaskRow[]> {
	const conditions: WhereOptions<TaskRow>[] = [{ projectId: filter.projectId }, { deletedAt: { [Op.is]: null } }];
	if (filter.status !== undefined) conditions.push({ status: filter.status });
	if (filter.assigneeId !== undefined) conditions.push({ assigneeId: filter.assigneeId });
	if (filter.dueBefore !== undefined) conditions.push({ dueDate: { [Op.lt]: filter.dueBefore } });
	if (filter.before !== undefined) conditions.push({ id: { [Op.lt]: filter.before } });
	if (filter.label !== undefined) {
		const q = (identifier: string) => db.getQueryInterface().quoteIdentifier(identifier);
		const labelled = db.literal(
			`(SELECT ${q("taskId")} FROM ${q("task_labels")} WHERE ${q("projectId")} = ${db.escape(filter.projectId)} AND ${q("label")} = ${db.escape(filter.label)})`,
		);
		conditions.push({ id: { [Op.in]: labelled } });
	}
	const rows = await tables.tasks.findAll({
		where: { [Op.and]: conditions },
		attributes: { exclude: ["embedding"] },
		order: [["id", "DESC"]],
		limit: filter.limit + 1,
	});
	return rows.map((row) => row.get({ plain: true }));
}

/** Replaces a task's rows in `task_labels` by `labels`. */
export async function writeLabels(tables: TasksTables, task: Pick<TaskRow, "id" | "projectId">, labels: string[], transaction: Transaction): Promise<void> {
	await tables.labels.destroy({ where: { taskId: task.id }, transaction });
	if (labels.length > 0) await tables.labels.bulkCreate(labels.map((label) => ({ taskId: task.id, label, projectId: task.projectId })), { transaction });
}

/**
 * The people who follow a task: its creator, its assignee, whoever commented on it and whoever asked to watch it,
 * less those who asked not to.
 */
export async function watcherIdsOf(tables: TasksTables, task: Pick<TaskRow, "id" | "createdBy" | "assigneeId">): Promise<number[]> {
	const [commenters, choices] = await Promise.all([
		tables.comments.findAll({ where: { taskId: task.id }, attributes: ["userId"], group: ["userId"] }),
		tables.watchers.findAll({ where: { taskId: task.id } }),
	]);
	const watchers = new Set<number>([task.createdBy, ...(task.assigneeId === null ? [] : [task.assigneeId])]);
	for (const row of commenters) watchers.add(row.get({ plain: true }).userId);
	for (const choice of choices.map((row) => row.get({ plain: true }))) {
		if (choice.watching) watchers.add(choice.userId);
		else watchers.delete(choice.userId);
	}
	return [...watchers].sort((a, b) => a - b);
}

/** Tasks whose due date is at or before `limit` and was not announced yet, soonest first. */
export async function dueSoonCandidates(tables: TasksTables, limit: Date, count: number): Promise<TaskRow[]> {
	const rows = await tables.tasks.findAll({
		where: {
			[Op.and]: [
				{ deletedAt: { [Op.is]: null } },
				{ dueDate: { [Op.lte]: limit } },
				{ [Op.or]: [{ dueNotifiedFor: { [Op.is]: null } }, where(col("dueNotifiedFor"), Op.ne, col("dueDate"))] },
			],
		},
		attributes: { exclude: ["embedding"] },
		order: [["dueDate", "ASC"]],
		limit: count,
	});
	return rows.map((row) => row.get({ plain: true }));
}

/**
 * Marks the task's current due date announced, if it is still due by `limit` and was not announced yet: of
 * several tasks nodes checking at once, exactly one gets `true`.
 */
export async function claimDueSoon(tables: TasksTables, taskId: number, limit: Date): Promise<boolean> {
	const [claimed] = await tables.tasks.update(
		{ dueNotifiedFor: col("dueDate") },
		{
			where: {
				[Op.and]: [
					{ id: taskId },
					{ deletedAt: { [Op.is]: null } },
					{ dueDate: { [Op.lte]: limit } },
					{ [Op.or]: [{ dueNotifiedFor: { [Op.is]: null } }, where(col("dueNotifiedFor"), Op.ne, col("dueDate"))] },
				],
			},
			silent: true,
		},
	);
	return claimed === 1;
}

/**
 * The `count` tasks of the project most similar to `vector` (exact cosine over the stored embeddings of the same
 * model), at least `threshold` similar, best first; deleted tasks and `taskId` itself are left out.
 */
export async function similarTasks(
	tables: TasksTables,
	task: Pick<TaskRow, "id" | "projectId">,
	model: string,
	vector: ArrayLike<number>,
	count: number,
	threshold: number,
): Promise<SimilarTask[]> {
	const query = unitVector(vector);
	const best: SimilarTask[] = [];
	let after = 0;
	for (;;) {
		const page = await tables.tasks.findAll({
			where: {
				projectId: task.projectId,
				id: { [Op.gt]: after, [Op.ne]: task.id },
				deletedAt: { [Op.is]: null },
				embeddingModel: model,
			},
			attributes: ["id", "title", "embedding"],
			order: [["id", "ASC"]],
			limit: VECTOR_PAGE,
		});
		if (page.length === 0) break;
		for (const row of page.map((candidate) => candidate.get({ plain: true }))) {
			after = row.id;
			if (!row.embedding) continue;
			const other = unitVector(fromFloat32Blob(row.embedding));
			if (other.length !== query.length) continue;
			let score = 0;
			for (let i = 0; i < query.length; i++) score += query[i] * other[i];
			if (score < threshold) continue;
			best.push({ taskId: row.id, title: row.title, score: Math.round(score * 1_000) / 1_000 });
			best.sort((a, b) => b.score - a.score || a.taskId - b.taskId);
			best.length = Math.min(best.length, count);
		}
		if (page.length < VECTOR_PAGE) break;
	}
	return best;
}

/** How many live tasks of the project are in each of `states`. */
export async function tasksInStates(tables: TasksTables, projectId: number, states: string[]): Promise<Map<string, number>> {
	const counts = new Map<string, number>();
	if (states.length === 0) return counts;
	const groups = await tables.tasks.count({
		where: { projectId, status: { [Op.in]: states }, deletedAt: { [Op.is]: null } },
		group: ["status"],
	});
	for (const group of groups) counts.set(String(group.status), Number(group.count));
	return counts;
}

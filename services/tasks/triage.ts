import type { ServiceBroker } from "moleculer";
import { Op, type Sequelize, type Transaction } from "sequelize";
import { hostBoard } from "../../lib/ai/host-board";
import { toFloat32Blob } from "../../lib/vector/float32-blob";
import { PLAIN_TEXT } from "../../lib/validation";
import type { AiClassifyAnswer, AiClassifyParams, AiEmbedAnswer, AiEmbedParams, ClassifySchema } from "../../types/ai";
import { TASK_PRIORITIES, type SimilarTask, type TaskPriority, type TaskUpdatedEvent, type TriageJob } from "../../types/tasks";
import type { SessionUser } from "../../types/users";
import { saveTask, type SavedTask } from "./changes";
import { similarTasks } from "./queries";
import type { ProjectRow, TaskRow, TasksTables } from "./tables";
import { labelsOf, taskView, type StoredTriage } from "./views";

/** The durable queue (DESIGN §3) the tasks service's triage jobs go through. */
export const TRIAGE_JOBS = "tasks.triage.jobs";

export const TASK_CATEGORIES = ["bug", "feature", "improvement", "question", "chore", "documentation"] as const;
export const MAX_SUGGESTED_LABELS = 5;

export interface TriageSettings {
	/** Off: tasks are created without triage (`triage: null`) and nothing is queued. */
	enabled: boolean;
	/** Tasks at least this similar (cosine of the embeddings) are offered as likely duplicates. */
	similarThreshold: number;
	similarCount: number;
	/** While no AI host can answer, whether one can is checked this often. */
	aiPollMs: number;
	/** A job waits this long for an AI host, then goes back to the queue (which brings it again later). */
	aiWaitMs: number;
	/** A pending triage with no sign of its job for this long is queued again (a lost job, a crashed node). */
	staleAfterMs: number;
	/** The models asked; unset, each `ai` node's defaults. */
	chatModel?: string;
	embedModel?: string;
	/** One AI call may take this long. */
	aiTimeoutMs: number;
}

export const DEFAULT_TRIAGE_SETTINGS: TriageSettings = {
	enabled: process.env.TASKS_TRIAGE !== "false",
	similarThreshold: 0.75,
	similarCount: 3,
	aiPollMs: 1_000,
	aiWaitMs: 3_600_000,
	staleAfterMs: 15 * 60_000,
	aiTimeoutMs: 60_000,
};

/** What the triage needs of the tasks service it lives in. */
export interface TriageHost {
	broker: ServiceBroker;
	logger: ServiceBroker["logger"];
	tables: TasksTables;
	database: Sequelize;
	transaction<T>(work: (transaction: Transaction) => Promise<T>): Promise<T>;
	watcherIds(task: TaskRow): Promise<number[]>;
}

/** The NATS JetStream message a job came in; absent on the in-process queue. */
export interface QueueMessage {
	working?(): void;
}

type Session = Omit<SessionUser, "tokenId" | "tokenExpiresAt" | "sessionId">;

interface Suggestion {
	category: string;
	priority: TaskPriority;
	labels: string[];
	confidence: number;
}

/** The job cannot be done now (no AI host for too long, the service stopping): the queue brings it back later. */
class TriageDeferred extends Error {}

/** An answer the AI will not give for this task, whoever is asked (a refusal, an answer that never fits). */
interface Refusal {
	refused: string;
}

/** A task created less than this long ago is left to the job its creation queued. */
const FRESH_MS = 60_000;
/** JetStream redelivers a job not acknowledged for 30 s: a job still waiting says so well before. */
const KEEP_ALIVE_MS = 5_000;
/** A job working on a task renews its sign of life this often, well within `staleAfterMs`. */
const LEASE_RENEW_MS = 60_000;
/** Longest pause between two tries while the AI answers but fails. */
const MAX_BACKOFF_MS = 30_000;
const SWEEP_BATCH = 200;

const INSTRUCTION =
	"You triage the tasks of a software team's tracker. From the task's title and description, say which category it is, " +
	"how urgent it is (urgent, high, medium, low or none), up to five short lowercase labels that would help find it, " +
	"and how confident you are in this triage, from 0 to 1.";

export const TRIAGE_SCHEMA: ClassifySchema = {
	type: "object",
	properties: {
		category: { type: "string", enum: [...TASK_CATEGORIES] },
		priority: { type: "string", enum: [...TASK_PRIORITIES] },
		labels: { type: "array", items: { type: "string" }, description: `At most ${MAX_SUGGESTED_LABELS} short lowercase labels` },
		confidence: { type: "number", minimum: 0, maximum: 1 },
	},
	required: ["category", "priority", "labels", "confidence"],
};

/** A label as tasks keep them: trimmed, lowercase, single spaces, at most 50 characters. */
export function normalizeLabel(label: string): string {
	return label.trim().toLowerCase().replace(/\s+/g, " ").slice(0, 50).trim();
}

export function normalizeLabels(labels: readonly string[]): string[] {
	return [...new Set(labels.map(normalizeLabel).filter((label) => label.length > 0 && PLAIN_TEXT.test(label)))];
}

/** The text the AI reads of a task. */
function textOf(task: Pick<TaskRow, "title" | "description">): string {
	return task.description ? `${task.title}\n\n${task.description}` : task.title;
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

/** How a failed call should be taken: wait for the service to come back, wait as told, or take the refusal. */
function failureOf(err: unknown): { wait: "available" } | { wait: "busy"; ms: number } | Refusal | null {
	const { name, code, type, data, message } = (err ?? {}) as { name?: string; code?: unknown; type?: string; data?: { retryAfter?: unknown }; message?: string };
	if (["ServiceNotFoundError", "ServiceNotAvailableError", "RequestRejectedError", "RequestTimeoutError", "RequestSkippedError"].includes(name ?? "")) {
		return { wait: "available" };
	}
	if (typeof code !== "number") return null;
	if (code === 429) return { wait: "busy", ms: Math.max(1, Number(data?.retryAfter) || 1) * 1_000 };
	// A host without the model is waited for like one that is down: an operator pulls the model, the job goes on.
	if (type === "AI_MODEL_NOT_FOUND") return { wait: "available" };
	if (code >= 500 && type !== "AI_INVALID_OUTPUT") return { wait: "available" };
	return { refused: message ?? `refused with ${code}` };
}

/**
 * The AI's triage of new tasks (DESIGN §3): a durable job per task asks `ai.classify` for a category, a priority
 * and labels with a confidence, embeds the task through `ai.embed` to find the three most similar tasks of its
 * project, and stores the suggestion on the task, applying it when the project opted in. Creating a task never
 * waits for any of it. While no AI host can answer, a job waits for one (telling JetStream it is alive); a job
 * taken twice stores its triage once.
 */
export class TaskTriage {
	private stopped = false;

	constructor(
		private readonly host: TriageHost,
		private readonly settings: TriageSettings,
	) {}

	/** Queues the task's job; when the queue refuses it, the task is left for the sweep to queue again. */
	async queue(taskId: number): Promise<void> {
		const job: TriageJob = { taskId };
		try {
			await this.host.broker.sendToChannel(TRIAGE_JOBS, job);
		} catch (err) {
			this.host.logger.warn(`The triage queue refused the job of task ${taskId}; it is queued again later: ${(err as Error).message}`);
			await this.host.tables.tasks.update({ triageQueuedAt: null }, { where: { id: taskId, triageStatus: "pending" }, silent: true });
		}
	}

	/**
	 * Queues again the pending triages that have no live job: never queued (the queue was down), given up, or
	 * whose node died. Each is claimed in one statement, so of several tasks nodes sweeping at once one queues it.
	 */
	async sweep(now = Date.now(), lostBefore = 0): Promise<number> {
		if (!this.settings.enabled) return 0;
		// `lostBefore`: an in-process queue holds no job queued before its process started; those jobs are lost.
		const claimedBefore = new Date(Math.max(now - this.settings.staleAfterMs, lostBefore));
		const unclaimed = { [Op.or]: [{ triageQueuedAt: { [Op.is]: null } }, { triageQueuedAt: { [Op.lt]: claimedBefore } }] };
		const createdBefore = new Date(Math.max(now - FRESH_MS, lostBefore));
		const rows = await this.host.tables.tasks.findAll({
			where: { triageStatus: "pending", deletedAt: { [Op.is]: null }, createdAt: { [Op.lt]: createdBefore }, ...unclaimed },
			attributes: ["id"],
			order: [["id", "ASC"]],
			limit: SWEEP_BATCH,
		});
		let queued = 0;
		for (const { id } of rows.map((row) => row.get({ plain: true }))) {
			const [claimed] = await this.host.tables.tasks.update(
				{ triageQueuedAt: new Date(now) },
				{ where: { id, triageStatus: "pending", ...unclaimed }, silent: true },
			);
			if (claimed !== 1) continue;
			await this.queue(id);
			queued += 1;
		}
		if (queued > 0) this.host.logger.info(`Queued the triage of ${queued} task(s) again`);
		return queued;
	}

	/** Stops waiting jobs: they go back to the queue. */
	stop(): void {
		this.stopped = true;
	}

	/** Runs a queued job; throws when it must be done later, so the queue brings it back. */
	async run(job: TriageJob, queued?: QueueMessage): Promise<void> {
		const task = await this.pendingTask(job.taskId);
		if (!task) return;
		const keepAlive = setInterval(() => queued?.working?.(), KEEP_ALIVE_MS);
		const lease = setInterval(() => void this.renewLease(task.id), LEASE_RENEW_MS);
		try {
			await this.renewLease(task.id);
			await this.triage(task);
		} catch (err) {
			if (err instanceof TriageDeferred) {
				// No job is known to hold the task now: the sweep may queue it again, whatever the queue does.
				await this.host.tables.tasks.update({ triageQueuedAt: null }, { where: { id: task.id, triageStatus: "pending" }, silent: true }).catch(() => undefined);
				this.host.logger.warn(`The triage of task ${task.id} goes back to the queue: ${err.message}`);
			}
			throw err;
		} finally {
			clearInterval(keepAlive);
			clearInterval(lease);
		}
	}

	private async pendingTask(taskId: number): Promise<TaskRow | null> {
		const row = (await this.host.tables.tasks.findByPk(taskId, { attributes: { exclude: ["embedding"] } }))?.get({ plain: true });
		return row && row.triageStatus === "pending" && row.deletedAt === null ? row : null;
	}

	private async renewLease(taskId: number): Promise<void> {
		await this.host.tables.tasks.update({ triageQueuedAt: new Date() }, { where: { id: taskId, triageStatus: "pending" }, silent: true });
	}

	private async triage(task: TaskRow): Promise<void> {
		const deadline = Date.now() + this.settings.aiWaitMs;
		const requester = await this.patiently("users.session", deadline, () =>
			this.host.broker.call<Session | null, { id: number }>("users.session", { id: task.createdBy }),
		);
		if (requester === null || "refused" in requester) {
			// Inference is always done for someone: with its creator gone, the task is left without a suggestion.
			await this.store(task, null, null, requester === null ? "its creator's account is gone" : requester.refused);
			return;
		}
		const meta = { user: { ...requester, sessionId: `tasks-triage:${task.id}`, tokenId: "", tokenExpiresAt: 0 } satisfies SessionUser };
		const options = { meta, timeout: this.settings.aiTimeoutMs };
		const text = textOf(task);
		const classified = await this.patiently("ai.classify", deadline, () =>
			this.host.broker.call<AiClassifyAnswer, AiClassifyParams>(
				"ai.classify",
				{ text, instruction: INSTRUCTION, schema: TRIAGE_SCHEMA, ...(this.settings.chatModel ? { model: this.settings.chatModel } : {}) },
				options,
			),
		);
		const embedded = await this.patiently("ai.embed", deadline, () =>
			this.host.broker.call<AiEmbedAnswer, AiEmbedParams>("ai.embed", { input: text, ...(this.settings.embedModel ? { model: this.settings.embedModel } : {}) }, options),
		);
		const suggestion = "refused" in classified ? null : suggestionOf(classified.result);
		const embedding = "refused" in embedded || !embedded.embeddings[0] ? null : { model: embedded.model, vector: embedded.embeddings[0] };
		const problems: string[] = [];
		if ("refused" in classified) problems.push(`ai.classify: ${classified.refused}`);
		else if (!suggestion) problems.push("ai.classify answered out of shape");
		if ("refused" in embedded) problems.push(`ai.embed: ${embedded.refused}`);
		await this.store(task, suggestion, embedding, problems.join("; "));
	}

	/**
	 * Stores the triage once, whoever gets there first (a job may be taken twice), with its activity row; in a
	 * project that opted in, applies it to the fields the creator left as they come, in the same transaction.
	 */
	private async store(task: TaskRow, suggestion: Suggestion | null, embedding: { model: string; vector: number[] } | null, problem: string): Promise<void> {
		if (problem) this.host.logger.warn(`Task ${task.id} is triaged without ${suggestion ? "similar tasks" : "a suggestion"}: ${problem}`);
		const { tables } = this.host;
		const similar: SimilarTask[] = embedding
			? await similarTasks(tables, task, embedding.model, embedding.vector, this.settings.similarCount, this.settings.similarThreshold)
			: [];
		const triage: StoredTriage = { ...(suggestion ?? {}), applied: false, similar, at: new Date().toISOString() };
		const project = (await tables.projects.findByPk(task.projectId))?.get({ plain: true });
		const applied = await this.host.transaction(async (transaction) => {
			const [claimed] = await tables.tasks.update(
				{
					triageStatus: "done",
					triage: JSON.stringify(triage),
					triageQueuedAt: null,
					embedding: embedding ? toFloat32Blob(embedding.vector) : null,
					embeddingModel: embedding?.model ?? null,
				},
				{ where: { id: task.id, triageStatus: "pending", deletedAt: { [Op.is]: null } }, transaction },
			);
			if (claimed !== 1) return null;
			await tables.activity.create(
				{ taskId: task.id, projectId: task.projectId, actorId: null, action: "triaged", before: null, after: JSON.stringify({ ...(suggestion ?? {}), similar: similar.map((item) => item.taskId) }) },
				{ transaction },
			);
			return suggestion && project && Boolean(project.autoApplyTriage) ? this.autoApply(task.id, project, suggestion, triage, transaction) : null;
		});
		if (applied && applied.changed.length > 0) {
			const view = taskView(applied.row);
			const event: TaskUpdatedEvent = {
				task: view,
				changes: applied.changed,
				by: applied.row.createdBy,
				automatic: true,
				watcherIds: await this.host.watcherIds(applied.row),
			};
			this.host.broker.emit("tasks.task.updated", event);
		}
	}

	/** The suggestion set on what the creator left as it comes: a priority of `none`, no labels. */
	private async autoApply(taskId: number, project: ProjectRow, suggestion: Suggestion, triage: StoredTriage, transaction: Transaction): Promise<SavedTask | null> {
		const current = (await this.host.tables.tasks.findByPk(taskId, { attributes: { exclude: ["embedding"] }, transaction, lock: transaction.LOCK.UPDATE }))!.get({ plain: true });
		const changes = {
			...(current.priority === "none" ? { priority: suggestion.priority } : {}),
			...(labelsOf(current).length === 0 && suggestion.labels.length > 0 ? { labels: suggestion.labels } : {}),
		};
		if (Object.keys(changes).length === 0) return null;
		this.host.logger.debug(`Applying the triage of task ${taskId} in project ${project.id}`);
		// The row is locked: no other change can come between the read and this write.
		return saveTask(this.host.tables, current, changes, null, transaction, { triage: JSON.stringify({ ...triage, applied: true }) });
	}

	/**
	 * Calls `call` until it answers: while `action` has no node that can answer (or answers that it is busy), waits
	 * and tries again, up to `deadline`; answers a refusal as it is.
	 */
	private async patiently<T>(action: string, deadline: number, call: () => Promise<T>): Promise<T | Refusal> {
		for (let attempt = 0; ; attempt++) {
			try {
				return await call();
			} catch (err) {
				const failure = failureOf(err);
				if (failure === null) throw err;
				if ("refused" in failure) return failure;
				if (attempt === 0) this.host.logger.info(`Triage waits for ${action}: ${(err as Error).message}`);
				if (failure.wait === "busy") await this.pause(Math.min(failure.ms, Math.max(0, deadline - Date.now())), deadline);
				else await this.untilAvailable(action, attempt, deadline);
			}
		}
	}

	private async pause(ms: number, deadline: number): Promise<void> {
		const until = Date.now() + ms;
		while (Date.now() < until) {
			this.checkStillWaiting(deadline);
			await sleep(Math.min(this.settings.aiPollMs, until - Date.now()));
		}
	}

	/**
	 * Returns once `action` has a node that should answer: at once when it comes back after being away, otherwise
	 * after a pause that grows with each failure (a host that answers but fails is not hammered).
	 */
	private async untilAvailable(action: string, attempt: number, deadline: number): Promise<void> {
		const earliest = Date.now() + Math.min(this.settings.aiPollMs * 2 ** attempt, MAX_BACKOFF_MS);
		let wasAway = false;
		for (;;) {
			this.checkStillWaiting(deadline);
			const available = this.isAvailable(action);
			if (!available) wasAway = true;
			else if (wasAway || Date.now() >= earliest) return;
			await sleep(this.settings.aiPollMs);
		}
	}

	private checkStillWaiting(deadline: number): void {
		if (this.stopped || this.host.broker.stopping) throw new TriageDeferred("the tasks service is stopping");
		if (Date.now() > deadline) throw new TriageDeferred(`no answer for ${Math.round(this.settings.aiWaitMs / 60_000)} minutes`);
	}

	/** Whether a node offers `action`; for `ai.*`, also whether one of their hosts said lately that it is healthy. */
	private isAvailable(action: string): boolean {
		const endpoints = this.host.broker.registry.getActionEndpoints(action);
		if (!endpoints?.hasAvailable()) return false;
		if (!action.startsWith("ai.")) return true;
		const board = hostBoard(this.host.broker);
		return endpoints.endpoints.some((endpoint) => endpoint.isAvailable && board.usable(endpoint.id));
	}
}

/** The model's answer as a suggestion, or null when it does not fit (ai.classify checks it; a cached answer is checked again). */
function suggestionOf(result: Record<string, unknown>): Suggestion | null {
	const { category, priority, labels, confidence } = result;
	if (typeof category !== "string" || !(TASK_CATEGORIES as readonly string[]).includes(category)) return null;
	if (typeof priority !== "string" || !(TASK_PRIORITIES as readonly string[]).includes(priority)) return null;
	if (typeof confidence !== "number" || !Number.isFinite(confidence)) return null;
	const given = Array.isArray(labels) ? labels.filter((label): label is string => typeof label === "string") : [];
	return {
		category,
		priority: priority as TaskPriority,
		labels: normalizeLabels(given).slice(0, MAX_SUGGESTED_LABELS),
		confidence: Math.min(1, Math.max(0, confidence)),
	};
}

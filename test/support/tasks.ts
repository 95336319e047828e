import type { Context, ServiceSchema } from "moleculer";
import TasksService, { type TasksSettings } from "../../services/tasks/tasks.service";
import { DEFAULT_TRIAGE_SETTINGS, type TriageSettings } from "../../services/tasks/triage";
import type { ProjectView, TaskView } from "../../types/tasks";
import type { RestClient, SignedInUser } from "./platform";
import { until } from "./waiting";

export type TasksTestSettings = Partial<Omit<TasksSettings, "triage">> & { triage?: Partial<TriageSettings> };

/**
 * The tasks service on an in-memory database. Its timer is off (tests call `tasks.checkDueDates`), and a triage
 * job checks every 50 ms whether an AI host is back.
 */
export function tasksService(settings: TasksTestSettings = {}): ServiceSchema {
	const { triage, clock, ...rest } = settings;
	const merged: TasksSettings = {
		...TasksService.settings!,
		databaseUri: "sqlite::memory:",
		dueCheckMs: 0,
		...rest,
		// Moleculer deep-copies a service's settings, and with them a ManualClock's time: the service would read a
		// copy the test never moves. A function is kept as it is, so the service reads the test's clock through it.
		...(clock ? { clock: { now: () => clock.now() } } : {}),
		triage: { ...DEFAULT_TRIAGE_SETTINGS, aiPollMs: 50, ...triage },
	};
	return { ...(TasksService as unknown as ServiceSchema), settings: merged };
}

export interface RecordedEvent<T = unknown> {
	name: string;
	params: T;
}

/** A service that keeps every `tasks.*` domain event its broker gets, in order. */
export function taskEventRecorder(): { schema: ServiceSchema; events: RecordedEvent[]; named<T>(name: string): T[] } {
	const events: RecordedEvent[] = [];
	return {
		events,
		named: <T>(name: string) => events.filter((event) => event.name === name).map((event) => event.params as T),
		schema: {
			name: "task-events-recorder",
			events: {
				"tasks.**"(ctx: Context) {
					events.push({ name: ctx.eventName!, params: ctx.params });
				},
			},
		},
	};
}

/** Creates a project over REST, failing the test unless it is created. */
export async function createProject(rest: RestClient, owner: SignedInUser, body: Record<string, unknown>): Promise<ProjectView> {
	const answer = await rest.post<{ project: ProjectView }>("/api/v1/projects", body, owner.accessToken);
	if (answer.status !== 201) throw new Error(`project not created: ${answer.status} ${JSON.stringify(answer.body)}`);
	return answer.body.project;
}

/** Creates a task over REST, failing the test unless it is created. */
export async function createTask(rest: RestClient, user: SignedInUser, projectId: number, body: Record<string, unknown>): Promise<TaskView> {
	const answer = await rest.post<{ task: TaskView }>(`/api/v1/projects/${projectId}/tasks`, body, user.accessToken);
	if (answer.status !== 201) throw new Error(`task not created: ${answer.status} ${JSON.stringify(answer.body)}`);
	return answer.body.task;
}

/** Waits until the task's triage is done, and answers the task. */
export async function triaged(rest: RestClient, user: SignedInUser, taskId: number, timeoutMs = 10_000): Promise<TaskView> {
	let task: TaskView | undefined;
	await until(
		async () => {
			task = (await rest.get<{ task: TaskView }>(`/api/v1/tasks/${taskId}`, user.accessToken)).body.task;
			return task?.triage?.status === "done";
		},
		`task ${taskId} is triaged`,
		timeoutMs,
	);
	return task!;
}

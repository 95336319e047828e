import { ColonyApiError, type PublicUser, type TaskChange } from "@colony/client";
import type { ActivityView, TaskView, Workflow, WorkflowState } from "@colony/types/tasks";
import { Alert, Anchor, Badge, Box, Breadcrumbs, Button, Grid, Group, Loader, Modal, Paper, Stack, Text, Textarea, Title, VisuallyHidden } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent, type ReactNode } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { reasonOf } from "../../lib/errors";
import { api, useBridgeEvent, useMe } from "../../lib/session";
import { allowedTargets, canWrite, formatDay, formatTime, percent, PRIORITY_LABELS, roleOf, stateName, taskIdFromLink } from "./model";
import { MoveMenu } from "./MoveMenu";
import { keys, memberOptions, nameOf, placeTask, useProject, useUsers, useWorkflow } from "./queries";
import { AiMarker, DueDate, LabelList, LoadFailure, Loading, PriorityTag, readableDescription, triageWaits } from "./TaskBits";
import { changesOf, draftOf, TaskFields, type TaskDraft } from "./TaskFields";
import classes from "./tasks.module.css";

/** Set when the server refused a change made from an older version of the task. */
interface Conflict {
	currentVersion: number | null;
}

function conflictOf(err: unknown): Conflict | null {
	if (!(err instanceof ColonyApiError) || err.status !== 409 || err.type !== "VERSION_CONFLICT") return null;
	const current = (err.data as { currentVersion?: unknown } | undefined)?.currentVersion;
	return { currentVersion: typeof current === "number" ? current : null };
}

/** One task: its fields to edit, its state, the AI's suggestion, its comments and its history. */
export default function TaskPage() {
	const taskId = Number(useParams().taskId);
	const me = useMe();
	const queryClient = useQueryClient();
	const task = useQuery({
		queryKey: keys.task(taskId),
		queryFn: () => api.getTask(taskId),
		enabled: Number.isInteger(taskId) && taskId > 0,
		staleTime: 5_000,
		// While the AI has not answered, look again now and then: its suggestion arrives by itself.
		refetchInterval: (query) => (query.state.data?.triage?.status === "pending" ? 5_000 : false),
	});
	const projectId = task.data?.projectId ?? 0;
	const project = useProject(projectId, task.data !== undefined);
	const workflow = useWorkflow(projectId, task.data !== undefined);
	const { byId: users } = useUsers();
	const [conflict, setConflict] = useState<Conflict | null>(null);
	const [problem, setProblem] = useState<string | null>(null);
	const [status, setStatus] = useState("");
	const [resetKey, setResetKey] = useState(0);

	// Someone else commented, moved or changed it: what this page shows is refreshed.
	useBridgeEvent("notification", (notification) => {
		if (taskIdFromLink(notification.link) !== taskId) return;
		void queryClient.invalidateQueries({ queryKey: keys.task(taskId) });
	});

	/** After any change of ours: the task as the server answered, the board and the history refreshed. */
	const saved = (next: TaskView, message: string) => {
		queryClient.setQueryData(keys.task(next.id), next);
		placeTask(queryClient, next);
		void queryClient.invalidateQueries({ queryKey: keys.board(next.projectId) });
		void queryClient.invalidateQueries({ queryKey: keys.activity(next.id) });
		setConflict(null);
		setProblem(null);
		setStatus(message);
	};
	const failed = (err: unknown, what: string) => {
		const stale = conflictOf(err);
		if (stale) setConflict(stale);
		else setProblem(`${what}: ${reasonOf(err)}`);
	};

	const move = useMutation({
		mutationFn: ({ current, to }: { current: TaskView; to: WorkflowState }) => api.moveTask(current.id, to.key, current.version),
		onSuccess: (next, { to }) => saved(next, `Moved to ${to.name}.`),
		onError: (err, { to }) => {
			failed(err, `Not moved to ${to.name}`);
			if (err instanceof ColonyApiError && (err.type === "ILLEGAL_TRANSITION" || err.type === "TRANSITION_FORBIDDEN")) {
				void queryClient.invalidateQueries({ queryKey: keys.workflow(projectId) });
				void queryClient.invalidateQueries({ queryKey: keys.project(projectId) });
			}
		},
	});

	const reload = async () => {
		await queryClient.refetchQueries({ queryKey: keys.task(taskId), exact: true });
		setConflict(null);
		setProblem(null);
		// The form starts again from the task as it is now.
		setResetKey((n) => n + 1);
		setStatus("The task was reloaded.");
	};

	const invalid = !Number.isInteger(taskId) || taskId <= 0;
	if (invalid || task.isError || project.isError || workflow.isError) {
		const err = task.error ?? project.error ?? workflow.error;
		const missing = invalid || (err instanceof ColonyApiError && err.status === 404);
		return <LoadFailure missing={missing} what="Task" notFound="There is no such task, it was deleted, or you are not a member of its project." error={err} />;
	}

	if (!task.data || !project.data || !workflow.data) {
		return (
<Loading page label="Loading the task" />
		);
	}
	const current = task.data;
	const role = roleOf(project.data, me);
	const writer = canWrite(role);
	const flow = workflow.data;

	return (
		<Stack p="md" gap="md">
			<Breadcrumbs>
				<Anchor component={Link} to="/projects" size="sm" c="var(--mantine-color-text)" underline="always">
					Projects
				</Anchor>
				<Anchor component={Link} to={`/projects/${current.projectId}`} size="sm" c="var(--mantine-color-text)" underline="always">
					{project.data.name}
				</Anchor>
				<Text size="sm" aria-current="page">
					Task {current.id}
				</Text>
			</Breadcrumbs>

			<Group justify="space-between" align="flex-start" wrap="wrap">
				<Stack gap={6} style={{ flex: 1, minWidth: 240 }}>
					<Title order={1} className={classes.title}>
						{current.title}
					</Title>
					<Group gap="sm">
						<Text size="sm" span>
							State:
						</Text>
						<Badge variant="default" tt="none" size="lg">
							{stateName(flow, current.status)}
						</Badge>
						{writer && (
							<MoveMenu
								title={current.title}
								current={stateName(flow, current.status)}
								targets={allowedTargets(flow, current.status, role)}
								onMove={(to) => move.mutate({ current, to })}
								disabled={move.isPending}
							/>
						)}
						{current.priority !== "none" && <PriorityTag priority={current.priority} />}
						{triageWaits(current) && <AiMarker />}
						<DueDate task={current} workflow={flow} />
					</Group>
					<Text size="xs">
						Created by {nameOf(users, current.createdBy)} on <time dateTime={current.createdAt}>{formatTime(current.createdAt)}</time> · updated{" "}
						<time dateTime={current.updatedAt}>{formatTime(current.updatedAt)}</time> · version {current.version}
					</Text>
				</Stack>
				<Group gap="xs">
					<WatchButton task={current} me={me} />
					{(current.createdBy === me.id || role === "admin") && writer && <DeleteTask task={current} />}
				</Group>
			</Group>

			{conflict && (
				<Alert color="red" role="alert" title="Changed by someone else">
					<Stack gap="xs" align="flex-start">
						<Text size="sm">
							Someone else saved this task after you loaded it
							{conflict.currentVersion !== null ? ` (it is now at version ${conflict.currentVersion})` : ""}, so your change was not saved. Reload
							it to see theirs, then make yours again.
						</Text>
						<Button size="xs" variant="default" onClick={() => void reload()}>
							Reload task
						</Button>
					</Stack>
				</Alert>
			)}
			{problem && (
				<Alert color="red" role="alert" withCloseButton closeButtonLabel="Dismiss" onClose={() => setProblem(null)}>
					{problem}
				</Alert>
			)}
			<VisuallyHidden role="status" aria-live="polite">
				{status}
			</VisuallyHidden>

			<Grid gap="lg">
				<Grid.Col span={{ base: 12, md: 8 }}>
					<Stack gap="xl">
						<Details
							key={`${current.id}:${resetKey}`}
							task={current}
							members={memberOptions(project.data, users)}
							writer={writer}
							onSaved={(next) => saved(next, "Your changes were saved.")}
							onFailed={(err) => failed(err, "Not saved")}
						/>
						<Comments task={current} users={users} writer={writer} onAdded={() => void queryClient.invalidateQueries({ queryKey: keys.activity(current.id) })} />
						<Activity task={current} users={users} workflow={flow} />
					</Stack>
				</Grid.Col>
				<Grid.Col span={{ base: 12, md: 4 }}>
					<Triage task={current} writer={writer} onApplied={(next) => saved(next, "The AI's suggestion was applied.")} onFailed={(err) => failed(err, "The suggestion was not applied")} />
				</Grid.Col>
			</Grid>
		</Stack>
	);
}

function Section({ title, children, aside }: { title: string; children: ReactNode; aside?: ReactNode }) {
	const id = useId();
	return (
		<Box component="section" aria-labelledby={id}>
			<Group justify="space-between" mb="sm">
				<Title order={2} size="h3" id={id}>
					{title}
				</Title>
				{aside}
			</Group>
			{children}
		</Box>
	);
}

interface DetailsProps {
	task: TaskView;
	members: { value: string; label: string }[];
	writer: boolean;
	onSaved(task: TaskView): void;
	onFailed(err: unknown): void;
}

/**
 * The task's fields. The form keeps the version it was filled from: a save sends that version, so a change made
 * meanwhile by someone else is refused (409) rather than overwritten. While nothing is edited it follows the task.
 */
function Details({ task, members, writer, onSaved, onFailed }: DetailsProps) {
	const [base, setBase] = useState(task);
	const [draft, setDraft] = useState<TaskDraft>(() => draftOf(task));
	const [titleError, setTitleError] = useState<string | null>(null);
	const change = changesOf(base, draft);
	const dirty = Object.keys(change).length > 0;
	if (!dirty && task !== base && task.version >= base.version) {
		setBase(task);
		setDraft(draftOf(task));
	}

	const save = useMutation({
		mutationFn: (body: TaskChange) => api.updateTask(task.id, body),
		onSuccess: (next) => {
			setBase(next);
			setDraft(draftOf(next));
			onSaved(next);
		},
		onError: onFailed,
	});

	const submit = (event: FormEvent) => {
		event.preventDefault();
		if (!draft.title.trim()) {
			setTitleError("A task needs a title.");
			return;
		}
		setTitleError(null);
		if (dirty) save.mutate({ version: base.version, ...change });
	};

	return (
		<Section title="Details">
			<form onSubmit={submit} noValidate>
				<Stack gap="sm">
					<TaskFields value={draft} onChange={(patch) => setDraft((current) => ({ ...current, ...patch }))} members={members} titleError={titleError} disabled={!writer} />
					{writer && (
						<Group>
							<Button type="submit" loading={save.isPending} disabled={!dirty}>
								Save changes
							</Button>
							<Button
								variant="default"
								disabled={!dirty}
								onClick={() => {
									setTitleError(null);
									setBase(task);
									setDraft(draftOf(task));
								}}
							>
								Discard changes
							</Button>
						</Group>
					)}
				</Stack>
			</form>
		</Section>
	);
}

function Comments({ task, users, writer, onAdded }: { task: TaskView; users: Map<number, PublicUser>; writer: boolean; onAdded(): void }) {
	const queryClient = useQueryClient();
	const comments = useQuery({ queryKey: keys.comments(task.id), queryFn: () => api.comments(task.id), staleTime: 5_000 });
	const [text, setText] = useState("");
	const [error, setError] = useState<string | null>(null);
	const add = useMutation({
		mutationFn: (body: string) => api.addComment(task.id, body),
		onSuccess: (comment) => {
			queryClient.setQueryData(keys.comments(task.id), (current: typeof comments.data) => [...(current ?? []).filter((item) => item.id !== comment.id), comment]);
			void queryClient.invalidateQueries({ queryKey: keys.comments(task.id) });
			setText("");
			onAdded();
		},
		onError: (err) => setError(reasonOf(err)),
	});

	const submit = (event: FormEvent) => {
		event.preventDefault();
		if (!text.trim()) {
			setError("Write something first.");
			return;
		}
		setError(null);
		add.mutate(text.trim());
	};

	return (
		<Section title="Discussion">
			<Stack gap="sm">
				{comments.isPending ? (
					<Loading size="sm" label="Loading the comments" />
				) : comments.isError ? (
					<Alert color="red" role="alert">
						{reasonOf(comments.error)}
					</Alert>
				) : comments.data.length === 0 ? (
					<Text size="sm">No comments yet.</Text>
				) : (
					<Stack component="ol" gap="sm" className={classes.plainList}>
						{comments.data.map((comment) => (
							<Paper component="li" key={comment.id} withBorder p="sm" radius="md">
								<Group gap="xs" mb={4}>
									<Text size="sm" fw={600} span>
										{nameOf(users, comment.userId)}
									</Text>
									<Text size="xs" span>
										<time dateTime={comment.createdAt}>{formatTime(comment.createdAt)}</time>
									</Text>
								</Group>
								<Text size="sm" className={classes.pre}>
									{comment.text}
								</Text>
							</Paper>
						))}
					</Stack>
				)}
				{writer && (
					<form onSubmit={submit} noValidate>
						<Stack gap="xs">
							<Textarea
								label="Comment"
								autosize
								minRows={2}
								maxRows={10}
								maxLength={10_000}
								value={text}
								onChange={(event) => setText(event.currentTarget.value)}
								onKeyDown={(event) => {
									// Ctrl or ⌘ + Enter sends, as in most trackers.
									if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) submit(event);
								}}
								error={error}
								description="Ctrl + Enter sends it."
								styles={readableDescription}
							/>
							<Group>
								<Button type="submit" loading={add.isPending}>
									Add comment
								</Button>
							</Group>
						</Stack>
					</form>
				)}
			</Stack>
		</Section>
	);
}

const FIELD_NAMES: Record<string, string> = {
	title: "Title",
	description: "Description",
	status: "State",
	priority: "Priority",
	assigneeId: "Assignee",
	labels: "Labels",
	dueDate: "Due date",
};

const ACTIONS: Record<ActivityView["action"], string> = {
	created: "created the task",
	updated: "changed the task",
	assigned: "changed the assignee",
	transitioned: "moved the task",
	commented: "commented",
	triaged: "suggested a triage",
	deleted: "deleted the task",
};

function Activity({ task, users, workflow }: { task: TaskView; users: Map<number, PublicUser>; workflow: Workflow }) {
	const activity = useQuery({ queryKey: keys.activity(task.id), queryFn: () => api.activity(task.id), staleTime: 5_000 });

	const show = (field: string, value: unknown): string => {
		if (value === null || value === undefined || value === "") return "none";
		switch (field) {
			case "status":
				return stateName(workflow, String(value));
			case "priority":
				return PRIORITY_LABELS[value as keyof typeof PRIORITY_LABELS] ?? String(value);
			case "assigneeId":
				return nameOf(users, Number(value));
			case "labels":
				return Array.isArray(value) && value.length > 0 ? value.join(", ") : "none";
			case "dueDate":
				return formatDay(String(value));
			case "confidence":
				return typeof value === "number" ? percent(value) : String(value);
			default: {
				const text = Array.isArray(value) ? value.join(", ") : typeof value === "object" ? JSON.stringify(value) : String(value);
				return text.length > 120 ? `${text.slice(0, 117)}…` : text;
			}
		}
	};

	return (
		<Section title="Activity">
			{activity.isPending ? (
				<Loading size="sm" label="Loading the activity" />
			) : activity.isError ? (
				<Alert color="red" role="alert">
					{reasonOf(activity.error)}
				</Alert>
			) : (
				<Stack component="ol" gap="xs" className={classes.plainList}>
					{activity.data.map((entry) => {
						const before = entry.before ?? {};
						const after = entry.after ?? {};
						const fields = entry.action === "created" || entry.action === "deleted" || entry.action === "commented" ? [] : Object.keys({ ...before, ...after });
						return (
							<li key={entry.id}>
								<Text size="sm">
									<Text span fw={600} inherit>
										{entry.actorId === null ? (entry.action === "triaged" ? "The AI" : "Colony") : nameOf(users, entry.actorId)}
									</Text>{" "}
									{ACTIONS[entry.action] ?? entry.action} ·{" "}
									<time dateTime={entry.createdAt}>{formatTime(entry.createdAt)}</time>
								</Text>
								{fields.length > 0 && (
									<Box component="ul" pl="md" m={0}>
										{fields
											.filter((field) => field !== "similar")
											.map((field) => (
												<Text component="li" size="sm" key={field}>
													{FIELD_NAMES[field] ?? field}:{" "}
													{field in before && (
														<>
															{show(field, before[field])} <span aria-hidden="true">→</span>
															<VisuallyHidden>changed to</VisuallyHidden>{" "}
														</>
													)}
													{show(field, after[field])}
												</Text>
											))}
									</Box>
								)}
							</li>
						);
					})}
				</Stack>
			)}
		</Section>
	);
}

interface TriageProps {
	task: TaskView;
	writer: boolean;
	onApplied(task: TaskView): void;
	onFailed(err: unknown): void;
}

function Triage({ task, writer, onApplied, onFailed }: TriageProps) {
	const apply = useMutation({ mutationFn: () => api.applyTriage(task.id, task.version), onSuccess: onApplied, onError: onFailed });
	const triage = task.triage;
	return (
		<Paper withBorder p="md" radius="md">
			<Section title="AI triage">
				{!triage ? (
					<Text size="sm">The AI did not triage this task.</Text>
				) : triage.status === "pending" ? (
					<Group gap="xs" role="status">
						<Loader size="xs" aria-hidden="true" />
						<Text size="sm">Pending: the AI has not answered yet.</Text>
					</Group>
				) : (
					<Stack gap="sm">
						<dl className={classes.facts}>
							<dt>Category</dt>
							<dd>{triage.category ?? "none"}</dd>
							<dt>Priority</dt>
							<dd>{triage.priority ? PRIORITY_LABELS[triage.priority] : "none"}</dd>
							<dt>Labels</dt>
							<dd>{triage.labels && triage.labels.length > 0 ? <LabelList labels={triage.labels} /> : "none"}</dd>
							<dt>Confidence</dt>
							<dd>{triage.confidence !== undefined ? percent(triage.confidence) : "not given"}</dd>
						</dl>
						{triage.similar.length > 0 && (
							<Stack gap={4}>
								<Text size="sm" fw={600}>
									Similar tasks (possible duplicates)
								</Text>
								<Box component="ul" className={classes.plainList}>
									{triage.similar.map((similar) => (
										<Text component="li" size="sm" key={similar.taskId}>
											<Anchor component={Link} to={`/tasks/${similar.taskId}`} c="var(--mantine-color-text)" underline="always" inherit>
												{similar.title}
											</Anchor>{" "}
											({percent(similar.score)} similar)
										</Text>
									))}
								</Box>
							</Stack>
						)}
						{triage.applied ? (
							<Text size="sm" fw={600}>
								Applied to the task.
							</Text>
						) : (
							writer &&
							triage.priority !== undefined && (
								<Group>
									<Button onClick={() => apply.mutate()} loading={apply.isPending}>
										Apply suggestion
									</Button>
								</Group>
							)
						)}
						{triage.at && (
							<Text size="xs">
								Suggested on <time dateTime={triage.at}>{formatTime(triage.at)}</time>
							</Text>
						)}
					</Stack>
				)}
			</Section>
		</Paper>
	);
}

/**
 * Watch or stop watching. The server tells who watches only in answer to a change; before that the page assumes
 * what the server does by default: the creator, the assignee and whoever commented watch.
 */
function WatchButton({ task, me }: { task: TaskView; me: PublicUser }) {
	const comments = useQuery({ queryKey: keys.comments(task.id), queryFn: () => api.comments(task.id), staleTime: 5_000 });
	const [known, setKnown] = useState<boolean | null>(null);
	const assumed = task.createdBy === me.id || task.assigneeId === me.id || (comments.data ?? []).some((comment) => comment.userId === me.id);
	const watching = known ?? assumed;
	const toggle = useMutation({
		mutationFn: (next: boolean) => api.watchTask(task.id, next),
		onSuccess: (watcherIds) => setKnown(watcherIds.includes(me.id)),
	});
	return (
		<Stack gap={2} align="flex-end">
			<Button variant="default" onClick={() => toggle.mutate(!watching)} loading={toggle.isPending}>
				{watching ? "Stop watching" : "Watch"}
			</Button>
			{toggle.isError && (
				<Text size="xs" role="alert">
					{reasonOf(toggle.error)}
				</Text>
			)}
		</Stack>
	);
}

function DeleteTask({ task }: { task: TaskView }) {
	const queryClient = useQueryClient();
	const navigate = useNavigate();
	const [confirming, setConfirming] = useState(false);
	const remove = useMutation({
		mutationFn: () => api.deleteTask(task.id),
		onSuccess: () => {
			setConfirming(false);
			void queryClient.invalidateQueries({ queryKey: keys.board(task.projectId) });
			queryClient.removeQueries({ queryKey: keys.task(task.id) });
			navigate(`/projects/${task.projectId}`);
		},
	});
	return (
		<>
			<Button variant="default" onClick={() => setConfirming(true)}>
				Delete task
			</Button>
			<Modal opened={confirming} onClose={() => setConfirming(false)} title={`Delete “${task.title}”?`} closeButtonProps={{ "aria-label": "Close" }}>
				<Stack>
					<Text size="sm">The task leaves the board. Its history is kept.</Text>
					{remove.isError && (
						<Alert color="red" role="alert">
							{reasonOf(remove.error)}
						</Alert>
					)}
					<Group justify="flex-end">
						<Button variant="default" onClick={() => setConfirming(false)} data-autofocus>
							Keep it
						</Button>
						<Button color="red" onClick={() => remove.mutate()} loading={remove.isPending}>
							Delete
						</Button>
					</Group>
				</Stack>
			</Modal>
		</>
	);
}

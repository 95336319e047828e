import { ColonyApiError } from "@colony/client";
import type { TaskView, WorkflowState } from "@colony/types/tasks";
import { Alert, Anchor, Breadcrumbs, Button, Group, NativeSelect, Stack, Text, TextInput, Title, VisuallyHidden } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { reasonOf } from "../../lib/errors";
import { api, useBridgeEvent, useMe } from "../../lib/session";
import { Board, type FocusRequest } from "./Board";
import { canWrite, columnFilters, readFilters, roleOf, stateName, taskIdFromLink, type BoardFilters } from "./model";
import { NewTaskDialog } from "./NewTaskDialog";
import { LoadFailure, Loading } from "./TaskBits";
import { keys, loadedTasks, memberOptions, placeTask, useProject, useUsers, useWorkflow, type ColumnData } from "./queries";

/** A project's board: a column per workflow state, cards moved by drag and drop or by their "Move to…" menu. */
export default function BoardPage() {
	const projectId = Number(useParams().projectId);
	const me = useMe();
	const queryClient = useQueryClient();
	const project = useProject(projectId);
	const workflow = useWorkflow(projectId);
	const { byId: users } = useUsers();
	const [params, setParams] = useSearchParams();
	const filters = useMemo(() => readFilters(params), [params]);
	const [creating, setCreating] = useState(false);
	const [problem, setProblem] = useState<string | null>(null);
	const [status, setStatus] = useState("");
	const focusRequest = useRef<FocusRequest | null>(null);

	const role = roleOf(project.data, me);
	const members = useMemo(() => memberOptions(project.data, users), [project.data, users]);

	const moveTask = useMutation({
		mutationFn: ({ task, to }: { task: TaskView; to: WorkflowState; via: FocusRequest["control"]; snapshot: [readonly unknown[], ColumnData | undefined][] }) =>
			api.moveTask(task.id, to.key, task.version),
		onSuccess: (saved, { to }) => {
			placeTask(queryClient, saved);
			queryClient.setQueryData(keys.task(saved.id), saved);
			setStatus(`“${saved.title}” moved to ${to.name}.`);
		},
		onError: (err, { task, to, via, snapshot }) => {
			// The card goes back where it was (the focus with it), and the person reads why.
			focusRequest.current = { taskId: task.id, status: task.status, control: via };
			for (const [key, data] of snapshot) queryClient.setQueryData(key, data);
			const type = err instanceof ColonyApiError ? err.type : "";
			const why =
				type === "VERSION_CONFLICT"
					? `It was changed by someone else meanwhile; the board now shows it as it is. (${reasonOf(err)})`
					: reasonOf(err);
			setProblem(`“${task.title}” was not moved to ${to.name}: ${why}`);
			// The workflow, the roles or the task may have changed under us.
			if (type === "ILLEGAL_TRANSITION" || type === "TRANSITION_FORBIDDEN") {
				void queryClient.invalidateQueries({ queryKey: keys.workflow(projectId) });
				void queryClient.invalidateQueries({ queryKey: keys.project(projectId) });
			}
		},
		onSettled: (_saved, _err, { task }) => {
			void queryClient.invalidateQueries({ queryKey: keys.board(projectId) });
			void queryClient.invalidateQueries({ queryKey: keys.task(task.id) });
		},
	});

	const move = (task: TaskView, to: WorkflowState, via: FocusRequest["control"]) => {
		setProblem(null);
		// At once, before the server answers: a refetch under way would overwrite it, so it is stopped first.
		void queryClient.cancelQueries({ queryKey: keys.board(projectId) });
		const snapshot = queryClient.getQueriesData<ColumnData>({ queryKey: keys.columns(projectId) });
		focusRequest.current = { taskId: task.id, status: to.key, control: via };
		placeTask(queryClient, { ...task, status: to.key });
		moveTask.mutate({ task, to, via, snapshot });
	};

	// A notification about a task of this project (assigned, moved, commented) means the board is out of date.
	useBridgeEvent("notification", (notification) => {
		const taskId = taskIdFromLink(notification.link);
		if (taskId === null) return;
		const refresh = () => void queryClient.invalidateQueries({ queryKey: keys.board(projectId) });
		if (loadedTasks(queryClient, projectId).some((task) => task.id === taskId)) {
			refresh();
			return;
		}
		queryClient
			.fetchQuery({ queryKey: keys.task(taskId), queryFn: () => api.getTask(taskId), staleTime: 0 })
			.then((task) => task.projectId === projectId && refresh())
			.catch(() => undefined);
	});

	const setFilter = useCallback(
		(name: FilterName, value: string) => {
			setParams(
				(current) => {
					const next = new URLSearchParams(current);
					if (value) next.set(name, value);
					else next.delete(name);
					return next;
				},
				{ replace: true },
			);
		},
		[setParams],
	);
	const clearFilters = useCallback(() => setParams(new URLSearchParams(), { replace: true }), [setParams]);

	const invalid = !Number.isInteger(projectId) || projectId <= 0;
	if (!invalid && (project.isPending || workflow.isPending)) {
		return (
<Loading page label="Loading the board" />
		);
	}
	if (invalid || project.isError || workflow.isError || !project.data || !workflow.data) {
		const err = project.error ?? workflow.error;
		const missing = invalid || (err instanceof ColonyApiError && err.status === 404);
		return <LoadFailure missing={missing} what="Project" notFound="There is no such project, or you are not one of its members." error={err} />;
	}

	const states = filters.status ? workflow.data.states.filter((state) => state.key === filters.status) : workflow.data.states;
	const knownLabels = [...new Set(loadedTasks(queryClient, projectId).flatMap((task) => task.labels))].sort();
	const writer = canWrite(role);

	return (
		<Stack p="md" gap="md">
			<Breadcrumbs>
				<Anchor component={Link} to="/projects" size="sm" c="var(--mantine-color-text)" underline="always">
					Projects
				</Anchor>
				<Text size="sm" aria-current="page">
					{project.data.name}
				</Text>
			</Breadcrumbs>
			<Group justify="space-between" align="flex-start">
				<Stack gap={4}>
					<Title order={1}>{project.data.name}</Title>
					{project.data.description && <Text size="sm">{project.data.description}</Text>}
					{!writer && <Text size="sm">You can read this project's tasks; its members move and change them.</Text>}
				</Stack>
				{writer && <Button onClick={() => setCreating(true)}>New task</Button>}
			</Group>

			<Filters filters={filters} members={members} states={workflow.data.states} knownLabels={knownLabels} setFilter={setFilter} clear={clearFilters} />

			{problem && (
				<Alert color="red" role="alert" title="Not moved" withCloseButton closeButtonLabel="Dismiss" onClose={() => setProblem(null)}>
					{problem}
				</Alert>
			)}
			<VisuallyHidden role="status" aria-live="polite">
				{status}
			</VisuallyHidden>

			<Board
				projectId={projectId}
				workflow={workflow.data}
				states={states}
				role={role}
				users={users}
				filters={columnFilters(filters)}
				move={move}
				refuse={setProblem}
				focusRequest={focusRequest}
			/>

			{writer && (
				<NewTaskDialog
					projectId={projectId}
					opened={creating}
					onClose={() => setCreating(false)}
					members={members}
					knownLabels={knownLabels}
					onCreated={(task) => {
						setCreating(false);
						placeTask(queryClient, task);
						void queryClient.invalidateQueries({ queryKey: keys.board(projectId) });
						setStatus(`“${task.title}” was created in ${stateName(workflow.data, task.status)}.`);
					}}
				/>
			)}
		</Stack>
	);
}

type FilterName = "assignee" | "label" | "status" | "due";

interface FiltersProps {
	filters: BoardFilters;
	members: { value: string; label: string }[];
	states: WorkflowState[];
	knownLabels: string[];
	setFilter(name: FilterName, value: string): void;
	clear(): void;
}

/** The board's filters; they live in the URL query, so a filtered board can be shared and survives a reload. */
function Filters({ filters, members, states, knownLabels, setFilter, clear }: FiltersProps) {
	// The label is typed: it reaches the URL (and the server) once the typing pauses.
	const [label, setLabel] = useState(filters.label ?? "");
	useEffect(() => setLabel(filters.label ?? ""), [filters.label]);
	useEffect(() => {
		const normalized = label.trim().toLowerCase();
		if (normalized === (filters.label ?? "")) return;
		const timer = setTimeout(() => setFilter("label", normalized), 400);
		return () => clearTimeout(timer);
	}, [label, filters.label, setFilter]);
	const active = filters.assigneeId !== undefined || filters.label || filters.status || filters.due;

	return (
		<Group component="form" role="search" aria-label="Filter the tasks" align="flex-end" gap="sm" onSubmit={(event: FormEvent) => event.preventDefault()}>
			<NativeSelect
				label="Assigned to"
				data={[{ value: "", label: "Anyone" }, ...members]}
				value={filters.assigneeId !== undefined ? String(filters.assigneeId) : ""}
				onChange={(event) => setFilter("assignee", event.currentTarget.value)}
				w={190}
			/>
			<TextInput
				label="With label"
				value={label}
				onChange={(event) => setLabel(event.currentTarget.value)}
				onKeyDown={(event) => event.key === "Enter" && setFilter("label", label.trim().toLowerCase())}
				list="colony-known-labels"
				w={170}
			/>
			<datalist id="colony-known-labels">
				{knownLabels.map((known) => (
					<option key={known} value={known} />
				))}
			</datalist>
			<NativeSelect
				label="State"
				data={[{ value: "", label: "All states" }, ...states.map((state) => ({ value: state.key, label: state.name }))]}
				value={filters.status ?? ""}
				onChange={(event) => setFilter("status", event.currentTarget.value)}
				w={170}
			/>
			<TextInput label="Due before" type="date" value={filters.due ?? ""} onChange={(event) => setFilter("due", event.currentTarget.value)} w={170} />
			{active && (
				<Button
					variant="default"
					onClick={() => {
						setLabel("");
						clear();
					}}
				>
					Clear filters
				</Button>
			)}
		</Group>
	);
}

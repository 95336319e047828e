import type { PublicUser } from "@colony/client";
import type { ProjectRole, TaskView, Workflow, WorkflowState } from "@colony/types/tasks";
import {
	DndContext,
	DragOverlay,
	KeyboardSensor,
	PointerSensor,
	pointerWithin,
	rectIntersection,
	useDraggable,
	useDroppable,
	useSensor,
	useSensors,
	type Announcements,
	type CollisionDetection,
	type DragEndEvent,
	type DragStartEvent,
	type KeyboardCoordinateGetter,
	type ScreenReaderInstructions,
} from "@dnd-kit/core";
import { ActionIcon, Alert, Anchor, Badge, Button, Group, Paper, Stack, Text, Title } from "@mantine/core";
import { useInfiniteQuery } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useId, useMemo, useRef, useState, type KeyboardEventHandler, type MutableRefObject, type PointerEventHandler } from "react";
import { Link } from "react-router";
import { reasonOf } from "../../lib/errors";
import { api } from "../../lib/session";
import { allowedTargets, canWrite, stateName, taskQuery, type ColumnFilters } from "./model";
import { MoveMenu } from "./MoveMenu";
import { keys, nameOf } from "./queries";
import { AiMarker, DueDate, LabelList, Loading, PriorityTag, triageWaits } from "./TaskBits";
import classes from "./tasks.module.css";

const PAGE_SIZE = 25;

/** Which card should take the focus once it shows in its new column, and which of its controls. */
export interface FocusRequest {
	taskId: number;
	status: string;
	control: "move" | "handle";
}

interface BoardContextValue {
	projectId: number;
	workflow: Workflow;
	role: ProjectRole | null;
	users: Map<number, PublicUser>;
	filters: ColumnFilters;
	move(task: TaskView, to: WorkflowState, via: FocusRequest["control"]): void;
	focusRequest: MutableRefObject<FocusRequest | null>;
	/** The task being dragged and where it may go; null when nothing is. */
	dragging: { task: TaskView; allowed: Set<string> } | null;
}

const BoardContext = createContext<BoardContextValue | null>(null);

function useBoard(): BoardContextValue {
	const value = useContext(BoardContext);
	if (!value) throw new Error("useBoard outside the board");
	return value;
}

/** Pointer drags land in the column under the pointer; keyboard drags (no pointer) in the column the card overlaps most. */
const collisionDetection: CollisionDetection = (args) => {
	const underPointer = pointerWithin(args);
	return underPointer.length > 0 ? underPointer : rectIntersection(args);
};

/** With the keyboard, left and right jump a picked-up card to the previous or next column. */
const columnKeyboardCoordinates: KeyboardCoordinateGetter = (event, { context, currentCoordinates }) => {
	if (event.code !== "ArrowRight" && event.code !== "ArrowLeft") {
		if (event.code === "ArrowUp" || event.code === "ArrowDown") event.preventDefault();
		return undefined;
	}
	event.preventDefault();
	const { collisionRect, droppableRects, droppableContainers, over } = context;
	if (!collisionRect) return undefined;
	const columns = droppableContainers
		.getEnabled()
		.map((container) => ({ id: container.id, rect: droppableRects.get(container.id) }))
		.filter((column): column is { id: string | number; rect: NonNullable<typeof column.rect> } => column.rect !== undefined)
		.sort((a, b) => a.rect.left - b.rect.left);
	const middle = collisionRect.left + collisionRect.width / 2;
	let index = over ? columns.findIndex((column) => column.id === over.id) : -1;
	if (index < 0) index = columns.findIndex((column) => middle >= column.rect.left && middle <= column.rect.left + column.rect.width);
	const next = columns[index + (event.code === "ArrowRight" ? 1 : -1)];
	if (index < 0 || !next) return undefined;
	const top = Math.min(Math.max(currentCoordinates.y, next.rect.top), next.rect.top + Math.max(0, next.rect.height - collisionRect.height));
	return { x: next.rect.left + (next.rect.width - collisionRect.width) / 2, y: top };
};

const screenReaderInstructions: ScreenReaderInstructions = {
	draggable:
		"To move this task to another column, press space or enter to pick it up, the left and right arrow keys to carry it to a column, " +
		"then space or enter to drop it there, or escape to put it back. The task's “Move to…” menu does the same in one step.",
};

interface BoardProps {
	projectId: number;
	workflow: Workflow;
	/** The columns shown: every state, or the one the status filter keeps. */
	states: WorkflowState[];
	role: ProjectRole | null;
	users: Map<number, PublicUser>;
	filters: ColumnFilters;
	move(task: TaskView, to: WorkflowState, via: FocusRequest["control"]): void;
	/** A drop on a column the workflow does not allow: said, not sent. */
	refuse(message: string): void;
	focusRequest: MutableRefObject<FocusRequest | null>;
}

/** The columns of a project's workflow with their cards, and drag and drop between them. */
export function Board({ projectId, workflow, states, role, users, filters, move, refuse, focusRequest }: BoardProps) {
	const [dragging, setDragging] = useState<BoardContextValue["dragging"]>(null);
	const sensors = useSensors(
		useSensor(PointerSensor, { activationConstraint: { distance: 6 } }),
		useSensor(KeyboardSensor, { coordinateGetter: columnKeyboardCoordinates }),
	);

	const targetsOf = (task: TaskView) => new Set(allowedTargets(workflow, task.status, role).map((state) => state.key));
	const taskOf = (data: unknown) => (data as { task?: TaskView } | undefined)?.task;
	const name = (key: string | number) => stateName(workflow, String(key));

	const announcements: Announcements = {
		onDragStart({ active }) {
			const task = taskOf(active.data.current);
			if (!task) return undefined;
			const allowed = allowedTargets(workflow, task.status, role).map((state) => state.name);
			return `Picked up “${task.title}” in ${name(task.status)}. ${allowed.length > 0 ? `It may go to ${allowed.join(", ")}.` : "It may not move from there."}`;
		},
		onDragOver({ active, over }) {
			const task = taskOf(active.data.current);
			if (!task) return undefined;
			if (!over) return `“${task.title}” is over no column.`;
			if (over.id === task.status) return `“${task.title}” is over ${name(over.id)}, where it is now.`;
			return targetsOf(task).has(String(over.id)) ? `“${task.title}” is over ${name(over.id)}.` : `“${task.title}” is over ${name(over.id)}, where it may not go.`;
		},
		onDragEnd({ active, over }) {
			const task = taskOf(active.data.current);
			if (!task) return undefined;
			if (!over || over.id === task.status) return `“${task.title}” was put back in ${name(task.status)}.`;
			return targetsOf(task).has(String(over.id))
				? `“${task.title}” was dropped in ${name(over.id)}.`
				: `“${task.title}” may not go to ${name(over.id)}; it stays in ${name(task.status)}.`;
		},
		onDragCancel({ active }) {
			const task = taskOf(active.data.current);
			return task ? `Moving “${task.title}” was cancelled; it stays in ${name(task.status)}.` : undefined;
		},
	};

	const onDragStart = ({ active }: DragStartEvent) => {
		const task = taskOf(active.data.current);
		if (task) setDragging({ task, allowed: targetsOf(task) });
	};

	const onDragEnd = ({ active, over, activatorEvent }: DragEndEvent) => {
		setDragging(null);
		const task = taskOf(active.data.current);
		if (!task || !over || over.id === task.status) return;
		const to = workflow.states.find((state) => state.key === over.id);
		if (!to) return;
		// Carried by the keyboard: the focus goes back to the card's handle in its new column.
		const keyboard = activatorEvent instanceof KeyboardEvent;
		if (targetsOf(task).has(to.key)) {
			move(task, to, keyboard ? "handle" : "move");
			return;
		}
		const allowed = allowedTargets(workflow, task.status, role).map((state) => state.name);
		refuse(
			`“${task.title}” cannot move from ${name(task.status)} to ${to.name}. ` +
				(allowed.length > 0 ? `From ${name(task.status)} it can go to ${allowed.join(", ")}.` : `It cannot move from ${name(task.status)}.`),
		);
	};

	const context: BoardContextValue = { projectId, workflow, role, users, filters, move, focusRequest, dragging };
	return (
		<BoardContext.Provider value={context}>
			<DndContext
				sensors={sensors}
				collisionDetection={collisionDetection}
				accessibility={{ announcements, screenReaderInstructions }}
				onDragStart={onDragStart}
				onDragEnd={onDragEnd}
				onDragCancel={() => setDragging(null)}
			>
				{/* Focusable so the board scrolls sideways from the keyboard even when no card is in view. */}
				<div className={classes.board} role="group" aria-label="Board" tabIndex={0}>
					{states.map((state) => (
						<Column key={state.key} state={state} />
					))}
				</div>
				<DragOverlay dropAnimation={null}>{dragging ? <CardPreview task={dragging.task} /> : null}</DragOverlay>
			</DndContext>
		</BoardContext.Provider>
	);
}

function Column({ state }: { state: WorkflowState }) {
	const { projectId, workflow, filters, dragging } = useBoard();
	const headingId = useId();
	const query = useInfiniteQuery({
		queryKey: keys.column(projectId, state.key, filters),
		queryFn: ({ pageParam }) => api.listTasks(projectId, { ...taskQuery(filters), status: state.key, limit: PAGE_SIZE, ...(pageParam ? { cursor: pageParam } : {}) }),
		initialPageParam: undefined as string | undefined,
		getNextPageParam: (last) => last.nextCursor ?? undefined,
		staleTime: 5_000,
	});
	const { setNodeRef, isOver } = useDroppable({ id: state.key, data: { state } });
	const tasks = useMemo(() => {
		const seen = new Set<number>();
		return (query.data?.pages ?? []).flatMap((page) => page.items).filter((task) => !seen.has(task.id) && seen.add(task.id));
	}, [query.data]);

	const drop = !dragging || dragging.task.status === state.key ? undefined : dragging.allowed.has(state.key) ? "allowed" : "blocked";
	return (
		<section ref={setNodeRef} className={classes.column} aria-labelledby={headingId} data-drop={drop} data-over={isOver || undefined}>
			<Group justify="space-between" wrap="nowrap" gap="xs">
				<Title order={2} size="h5" id={headingId}>
					{state.name}
				</Title>
				<Badge variant="default" size="sm" aria-label={`${tasks.length}${query.hasNextPage ? " or more" : ""} tasks`}>
					{tasks.length}
					{query.hasNextPage ? "+" : ""}
				</Badge>
			</Group>
			{drop === "blocked" && (
				<Text size="xs" fw={600}>
					<span aria-hidden="true">⊘ </span>Not allowed from {stateName(workflow, dragging?.task.status ?? "")}
				</Text>
			)}
			{drop === "allowed" && (
				<Text size="xs" fw={600}>
					Drop here to move
				</Text>
			)}
			{query.isPending ? (
				<Loading size="sm" label={`Loading the tasks in ${state.name}`} />
			) : query.isError ? (
				<Alert color="red" role="alert" p="xs">
					{reasonOf(query.error)}
				</Alert>
			) : tasks.length === 0 ? (
				<Text size="sm" py="xs">
					No tasks
				</Text>
			) : (
				<ul className={classes.cards} aria-labelledby={headingId}>
					{tasks.map((task) => (
						<Card key={task.id} task={task} />
					))}
				</ul>
			)}
			{query.hasNextPage && (
				<Button variant="default" size="xs" onClick={() => void query.fetchNextPage()} loading={query.isFetchingNextPage} aria-label={`Load more tasks in ${state.name}`}>
					Load more
				</Button>
			)}
		</section>
	);
}

function Card({ task }: { task: TaskView }) {
	const { workflow, role, users, move, focusRequest } = useBoard();
	const writer = canWrite(role);
	const { attributes, listeners, setNodeRef, setActivatorNodeRef, isDragging } = useDraggable({ id: task.id, data: { task }, disabled: !writer });
	const moveButton = useRef<HTMLButtonElement>(null);
	const handle = useRef<HTMLButtonElement | null>(null);
	const targets = allowedTargets(workflow, task.status, role);
	const onPointerDown = listeners?.onPointerDown as PointerEventHandler<HTMLDivElement> | undefined;
	const onKeyDown = listeners?.onKeyDown as KeyboardEventHandler<HTMLButtonElement> | undefined;

	// A card moved by its menu or by the keyboard gets the focus back in its new column.
	useEffect(() => {
		const request = focusRequest.current;
		if (!request || request.taskId !== task.id || request.status !== task.status) return;
		focusRequest.current = null;
		(request.control === "handle" ? handle.current : moveButton.current)?.focus();
	});

	return (
		<li>
			<Paper
				ref={setNodeRef}
				withBorder
				p="sm"
				radius="md"
				className={classes.card}
				data-dragging={isDragging || undefined}
				// The pointer picks the card up anywhere; the keyboard only from its handle (a real button).
				onPointerDown={onPointerDown}
			>
				<Stack gap={6}>
					<Group gap={6} wrap="nowrap" align="flex-start">
						{writer && (
							<ActionIcon
								ref={(node: HTMLButtonElement | null) => {
									handle.current = node;
									setActivatorNodeRef(node);
								}}
								variant="subtle"
								color="gray"
								size="sm"
								className={classes.handle}
								{...attributes}
								aria-label={`Drag “${task.title}”`}
								onKeyDown={onKeyDown}
							>
								<span aria-hidden="true">⠿</span>
							</ActionIcon>
						)}
						<Text component="h3" size="sm" fw={600} className={classes.title} style={{ flex: 1 }}>
							<Anchor component={Link} to={`/tasks/${task.id}`} draggable={false} inherit c="var(--mantine-color-text)">
								{task.title}
							</Anchor>
						</Text>
						{writer && (
							<MoveMenu buttonRef={moveButton} title={task.title} current={stateName(workflow, task.status)} targets={targets} onMove={(state) => move(task, state, "move")} />
						)}
					</Group>
					<Group gap="xs">
						{task.priority !== "none" && <PriorityTag priority={task.priority} />}
						{triageWaits(task) && <AiMarker />}
						<DueDate task={task} workflow={workflow} />
					</Group>
					<LabelList labels={task.labels} />
					<Text size="xs">{task.assigneeId === null ? "Unassigned" : nameOf(users, task.assigneeId)}</Text>
				</Stack>
			</Paper>
		</li>
	);
}

/** What follows the pointer while a card is dragged. */
function CardPreview({ task }: { task: TaskView }) {
	return (
		<Paper withBorder p="sm" radius="md" className={classes.overlay} aria-hidden="true">
			<Text size="sm" fw={600} className={classes.title}>
				{task.title}
			</Text>
			{task.priority !== "none" && <PriorityTag priority={task.priority} />}
		</Paper>
	);
}

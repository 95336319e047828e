import type { TaskPriority, TaskView, Workflow } from "@colony/types/tasks";
import { Alert, Anchor, Badge, Group, Loader, Stack, Text, Title, VisuallyHidden, type MantineSize } from "@mantine/core";
import { Link } from "react-router";
import { reasonOf } from "../../lib/errors";
import { formatDay, isOverdue, PRIORITY_COLORS, PRIORITY_LABELS } from "./model";
import classes from "./tasks.module.css";

/** A priority as a coloured mark and its name (the name says it; the colour only helps). */
export function PriorityTag({ priority }: { priority: TaskPriority }) {
	return (
		<Group gap={5} wrap="nowrap">
			<span className={classes.dot} style={{ background: `var(--mantine-color-${PRIORITY_COLORS[priority]}-filled)` }} aria-hidden="true" />
			<Text size="xs" span>
				{PRIORITY_LABELS[priority]}
			</Text>
		</Group>
	);
}

export function LabelList({ labels }: { labels: string[] }) {
	if (labels.length === 0) return null;
	return (
		<Group gap={4} component="ul" className={classes.plainList}>
			{labels.map((label) => (
				<Badge key={label} component="li" variant="default" size="sm" tt="none" fw={500}>
					{label}
				</Badge>
			))}
		</Group>
	);
}

export function DueDate({ task, workflow }: { task: TaskView; workflow: Workflow | undefined }) {
	if (!task.dueDate) return null;
	const overdue = isOverdue(task, workflow);
	return (
		<Text size="xs" span className={overdue ? classes.overdue : undefined}>
			{overdue ? "Overdue: " : "Due "}
			<time dateTime={task.dueDate}>{formatDay(task.dueDate)}</time>
		</Text>
	);
}

/** Whether the AI's suggestion is there and waits for someone to apply it. */
export function triageWaits(task: TaskView): boolean {
	return task.triage?.status === "done" && !task.triage.applied && task.triage.priority !== undefined;
}

export function AiMarker() {
	return (
		<Badge variant="default" size="sm" title="The AI's triage suggestion waits to be applied">
			AI<VisuallyHidden> suggestion waiting</VisuallyHidden>
		</Badge>
	);
}

/** A spinner that says what loads: a status, since a bare element may not carry a name. */
export function Loading({ label, size = "md", page }: { label: string; size?: MantineSize; page?: boolean }) {
	return (
		<Group role="status" justify={page ? "center" : "flex-start"} p={page ? "xl" : 0} gap="xs">
			<Loader size={size} aria-hidden="true" />
			<VisuallyHidden>{label}</VisuallyHidden>
		</Group>
	);
}

/** Mantine's input descriptions are dimmed, which lacks contrast in the dark scheme: these read as plain text. */
export const readableDescription = { description: { color: "var(--mantine-color-text)" } };

/** A screen whose data could not be read: "not found" (or the server's reason), and the way back. */
export function LoadFailure({ missing, what, notFound, error }: { missing: boolean; what: "Project" | "Task"; notFound: string; error: unknown }) {
	const noun = what === "Project" ? "The board" : "The task";
	return (
		<Stack p="md">
			<Title order={1}>{missing ? `${what} not found` : `${noun} could not be loaded`}</Title>
			<Alert color="red" role="alert">
				{missing ? notFound : reasonOf(error)}
			</Alert>
			<Anchor component={Link} to="/projects" c="var(--mantine-color-text)" underline="always">
				Back to your projects
			</Anchor>
		</Stack>
	);
}

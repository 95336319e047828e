import type { TaskChange } from "@colony/client";
import type { TaskPriority, TaskView } from "@colony/types/tasks";
import { NativeSelect, SimpleGrid, Stack, TagsInput, TextInput, Textarea } from "@mantine/core";
import { readableDescription } from "./TaskBits";
import { dateInputValue, dueDateFromInput, normalizeLabels, PRIORITY_OPTIONS } from "./model";

/** A task's editable fields as the form holds them: strings where an input holds a string. */
export interface TaskDraft {
	title: string;
	description: string;
	priority: TaskPriority;
	/** "" for no one. */
	assigneeId: string;
	labels: string[];
	/** YYYY-MM-DD, or "". */
	dueDate: string;
}

export const EMPTY_DRAFT: TaskDraft = { title: "", description: "", priority: "none", assigneeId: "", labels: [], dueDate: "" };

export function draftOf(task: TaskView): TaskDraft {
	return {
		title: task.title,
		description: task.description ?? "",
		priority: task.priority,
		assigneeId: task.assigneeId === null ? "" : String(task.assigneeId),
		labels: task.labels,
		dueDate: dateInputValue(task.dueDate),
	};
}

/** What the draft changes of the task it was made from: the body of a `PATCH`, less the version. */
export function changesOf(base: TaskView, draft: TaskDraft): Omit<TaskChange, "version"> {
	const before = draftOf(base);
	const change: Omit<TaskChange, "version"> = {};
	if (draft.title.trim() !== before.title) change.title = draft.title.trim();
	if (draft.description.trim() !== before.description.trim()) change.description = draft.description.trim() || null;
	if (draft.priority !== before.priority) change.priority = draft.priority;
	if (draft.assigneeId !== before.assigneeId) change.assigneeId = draft.assigneeId ? Number(draft.assigneeId) : null;
	const labels = normalizeLabels(draft.labels);
	if (labels.join("\n") !== normalizeLabels(before.labels).join("\n")) change.labels = labels;
	if (draft.dueDate !== before.dueDate) change.dueDate = dueDateFromInput(draft.dueDate);
	return change;
}

interface TaskFieldsProps {
	value: TaskDraft;
	onChange(patch: Partial<TaskDraft>): void;
	/** The project's members, to assign. */
	members: { value: string; label: string }[];
	/** Labels to suggest (those seen on the project's tasks). */
	knownLabels?: string[];
	titleError?: string | null;
	disabled?: boolean;
	autoFocusTitle?: boolean;
}

/** Title, description, priority, assignee, labels and due date: the same fields to create a task and to edit one. */
export function TaskFields({ value, onChange, members, knownLabels = [], titleError, disabled, autoFocusTitle }: TaskFieldsProps) {
	const assignees = [{ value: "", label: "Unassigned" }, ...members];
	// An assignee who left the project still shows as who the task is assigned to.
	if (value.assigneeId && !members.some((member) => member.value === value.assigneeId)) {
		assignees.push({ value: value.assigneeId, label: `User ${value.assigneeId} (not a member)` });
	}
	return (
		<Stack gap="sm">
			<TextInput
				label="Title"
				required
				maxLength={200}
				value={value.title}
				onChange={(event) => onChange({ title: event.currentTarget.value })}
				error={titleError}
				disabled={disabled}
				data-autofocus={autoFocusTitle || undefined}
			/>
			<Textarea
				label="Description"
				autosize
				minRows={3}
				maxRows={14}
				maxLength={10_000}
				value={value.description}
				onChange={(event) => onChange({ description: event.currentTarget.value })}
				disabled={disabled}
			/>
			<SimpleGrid cols={{ base: 1, xs: 2 }} spacing="sm">
				<NativeSelect
					label="Priority"
					data={PRIORITY_OPTIONS}
					value={value.priority}
					onChange={(event) => onChange({ priority: event.currentTarget.value as TaskPriority })}
					disabled={disabled}
				/>
				<NativeSelect
					label="Assignee"
					data={assignees}
					value={value.assigneeId}
					onChange={(event) => onChange({ assigneeId: event.currentTarget.value })}
					disabled={disabled}
				/>
			</SimpleGrid>
			<TagsInput
				label="Labels"
				description="Press Enter or type a comma after each label."
				styles={readableDescription}
				data={knownLabels.filter((label) => !value.labels.includes(label))}
				value={value.labels}
				onChange={(labels) => onChange({ labels })}
				maxTags={20}
				acceptValueOnBlur
				disabled={disabled}
			/>
			<TextInput label="Due date" type="date" value={value.dueDate} onChange={(event) => onChange({ dueDate: event.currentTarget.value })} disabled={disabled} />
		</Stack>
	);
}

import type { NewTask } from "@colony/client";
import type { TaskView } from "@colony/types/tasks";
import { Alert, Button, Group, Modal, Stack } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { reasonOf } from "../../lib/errors";
import { api } from "../../lib/session";
import { dueDateFromInput, normalizeLabels } from "./model";
import { EMPTY_DRAFT, TaskFields, type TaskDraft } from "./TaskFields";

interface NewTaskDialogProps {
	projectId: number;
	opened: boolean;
	onClose(): void;
	onCreated(task: TaskView): void;
	members: { value: string; label: string }[];
	knownLabels: string[];
}

export function NewTaskDialog({ projectId, opened, onClose, onCreated, members, knownLabels }: NewTaskDialogProps) {
	const [draft, setDraft] = useState<TaskDraft>(EMPTY_DRAFT);
	const [titleError, setTitleError] = useState<string | null>(null);
	const create = useMutation({
		mutationFn: (task: NewTask) => api.createTask(projectId, task),
		onSuccess: (task) => {
			setDraft(EMPTY_DRAFT);
			onCreated(task);
		},
	});

	const close = () => {
		create.reset();
		setTitleError(null);
		onClose();
	};

	const submit = (event: FormEvent) => {
		event.preventDefault();
		const title = draft.title.trim();
		if (!title) {
			setTitleError("Give the task a title.");
			return;
		}
		setTitleError(null);
		const labels = normalizeLabels(draft.labels);
		const dueDate = dueDateFromInput(draft.dueDate);
		create.mutate({
			title,
			...(draft.description.trim() ? { description: draft.description.trim() } : {}),
			...(draft.priority !== "none" ? { priority: draft.priority } : {}),
			...(draft.assigneeId ? { assigneeId: Number(draft.assigneeId) } : {}),
			...(labels.length > 0 ? { labels } : {}),
			...(dueDate ? { dueDate } : {}),
		});
	};

	return (
		<Modal opened={opened} onClose={close} title="New task" size="lg" closeButtonProps={{ "aria-label": "Close the new task dialog" }}>
			<form onSubmit={submit} noValidate>
				<Stack>
					<TaskFields value={draft} onChange={(patch) => setDraft((current) => ({ ...current, ...patch }))} members={members} knownLabels={knownLabels} titleError={titleError} autoFocusTitle />
					{create.isError && (
						<Alert color="red" role="alert" title="The task was not created">
							{reasonOf(create.error)}
						</Alert>
					)}
					<Group justify="flex-end">
						<Button variant="default" onClick={close}>
							Cancel
						</Button>
						<Button type="submit" loading={create.isPending}>
							Create task
						</Button>
					</Group>
				</Stack>
			</form>
		</Modal>
	);
}

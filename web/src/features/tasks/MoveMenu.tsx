import type { WorkflowState } from "@colony/types/tasks";
import { ActionIcon, Menu } from "@mantine/core";
import type { Ref } from "react";

interface MoveMenuProps {
	title: string;
	/** The name of the state the task is in. */
	current: string;
	/** Where it may go: the workflow's transitions from its state that the caller's role may take. */
	targets: WorkflowState[];
	onMove(state: WorkflowState): void;
	disabled?: boolean;
	buttonRef?: Ref<HTMLButtonElement>;
}

/** "Move to…": the allowed states of a task as a menu, so no one needs drag and drop to move it. */
export function MoveMenu({ title, current, targets, onMove, disabled, buttonRef }: MoveMenuProps) {
	return (
		// No focus placeholder: the focus goes to the first state, and the menu holds nothing but its items.
		<Menu position="bottom-end" withinPortal shadow="md" withInitialFocusPlaceholder={false}>
			<Menu.Target>
				<ActionIcon ref={buttonRef} variant="default" size="md" aria-label={`Move “${title}”`} title="Move to…" disabled={disabled}>
					<span aria-hidden="true">⇄</span>
				</ActionIcon>
			</Menu.Target>
			<Menu.Dropdown>
				<Menu.Label c="var(--mantine-color-text)">Move to… (now in {current})</Menu.Label>
				{targets.map((state) => (
					<Menu.Item key={state.key} onClick={() => onMove(state)}>
						{state.name}
					</Menu.Item>
				))}
				{targets.length === 0 && <Menu.Item disabled>No move allowed from {current}</Menu.Item>}
			</Menu.Dropdown>
		</Menu>
	);
}

import type { ProjectRole, StateCategory, Workflow, WorkflowState, WorkflowTransition } from "../../types/tasks";

/**
 * What a new project starts with: Backlog → Todo → In progress → In review → Done, plus Cancelled. Work can also
 * step back one state, Done can be reopened, and Cancelled restored to the backlog. No move is guarded by role.
 */
export const DEFAULT_WORKFLOW: Workflow = {
	states: [
		{ key: "backlog", name: "Backlog", category: "backlog" },
		{ key: "todo", name: "Todo", category: "unstarted" },
		{ key: "in_progress", name: "In progress", category: "started" },
		{ key: "in_review", name: "In review", category: "started" },
		{ key: "done", name: "Done", category: "completed" },
		{ key: "cancelled", name: "Cancelled", category: "cancelled" },
	],
	transitions: [
		{ from: "backlog", to: "todo" },
		{ from: "todo", to: "in_progress" },
		{ from: "todo", to: "backlog" },
		{ from: "in_progress", to: "in_review" },
		{ from: "in_progress", to: "todo" },
		{ from: "in_review", to: "done" },
		{ from: "in_review", to: "in_progress" },
		{ from: "done", to: "in_progress" },
		...["backlog", "todo", "in_progress", "in_review"].map((from) => ({ from, to: "cancelled" })),
		{ from: "cancelled", to: "backlog" },
	],
	initial: "backlog",
};

export const STATE_CATEGORIES: readonly StateCategory[] = ["backlog", "unstarted", "started", "completed", "cancelled"];
/** Roles a transition may be reserved to: viewers never change a task, so naming them would mean nothing. */
export const GUARD_ROLES: readonly ProjectRole[] = ["admin", "member"];
export const STATE_KEY = /^[a-z][a-z0-9_]{0,39}$/;

/** A problem with a workflow an admin sent, in the shape of a validation error's fields. */
export interface WorkflowProblem {
	field: string;
	type: string;
	message: string;
}

/** What is wrong with a workflow beyond its shape (checked by the action's params): none when it can be used. */
export function workflowProblems(workflow: Workflow): WorkflowProblem[] {
	const problems: WorkflowProblem[] = [];
	const keys = new Set<string>();
	workflow.states.forEach((state, i) => {
		if (keys.has(state.key)) problems.push({ field: `states[${i}].key`, type: "unique", message: `The state '${state.key}' is listed twice.` });
		keys.add(state.key);
	});
	if (!keys.has(workflow.initial)) problems.push({ field: "initial", type: "state", message: `The initial state '${workflow.initial}' is not one of the states.` });
	const moves = new Set<string>();
	workflow.transitions.forEach((transition, i) => {
		for (const end of ["from", "to"] as const) {
			if (!keys.has(transition[end])) {
				problems.push({ field: `transitions[${i}].${end}`, type: "state", message: `The state '${transition[end]}' is not one of the states.` });
			}
		}
		if (transition.from === transition.to) problems.push({ field: `transitions[${i}]`, type: "transition", message: "A transition must lead to another state." });
		const move = `${transition.from}→${transition.to}`;
		if (moves.has(move)) problems.push({ field: `transitions[${i}]`, type: "unique", message: `The transition ${transition.from} → ${transition.to} is listed twice.` });
		moves.add(move);
	});
	return problems;
}

/** The workflow as it is stored and shown: roles only where a transition is guarded, without duplicates. */
export function normalizeWorkflow(workflow: Workflow): Workflow {
	return {
		states: workflow.states.map(({ key, name, category }): WorkflowState => ({ key, name, category })),
		transitions: workflow.transitions.map(({ from, to, roles }): WorkflowTransition => {
			const guard = roles === undefined ? [] : [...new Set(roles)];
			return guard.length > 0 ? { from, to, roles: guard } : { from, to };
		}),
		initial: workflow.initial,
	};
}

export function stateOf(workflow: Workflow, key: string): WorkflowState | undefined {
	return workflow.states.find((state) => state.key === key);
}

/** Whether a task in this state is finished with: its due date no longer matters. */
export function isClosed(workflow: Workflow, key: string): boolean {
	const category = stateOf(workflow, key)?.category;
	return category === "completed" || category === "cancelled";
}

export type TransitionCheck =
	| { allowed: true; transition: WorkflowTransition }
	| { allowed: false; reason: "illegal"; allowedTargets: string[] }
	| { allowed: false; reason: "role"; roles: ProjectRole[] };

/** Whether a member with `role` may move a task from `from` to `to` in this workflow. */
export function checkTransition(workflow: Workflow, from: string, to: string, role: ProjectRole): TransitionCheck {
	const transition = workflow.transitions.find((candidate) => candidate.from === from && candidate.to === to);
	if (!transition || !stateOf(workflow, to)) {
		const allowedTargets = workflow.transitions.filter((candidate) => candidate.from === from && mayTake(candidate, role)).map((candidate) => candidate.to);
		return { allowed: false, reason: "illegal", allowedTargets };
	}
	if (!mayTake(transition, role)) return { allowed: false, reason: "role", roles: transition.roles ?? [] };
	return { allowed: true, transition };
}

function mayTake(transition: WorkflowTransition, role: ProjectRole): boolean {
	return !transition.roles || transition.roles.length === 0 || transition.roles.includes(role);
}

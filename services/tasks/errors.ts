import { Errors } from "moleculer";

/** 422: the request is well-formed but cannot be done to this project or task (an unknown assignee, an unknown state…). */
export class UnprocessableError extends Errors.MoleculerClientError {
	constructor(message: string, type: string, data?: unknown) {
		super(message, 422, type, data);
	}
}

/** 422 `ILLEGAL_TRANSITION`: the project's workflow has no such move from the task's state. */
export class IllegalTransitionError extends UnprocessableError {
	constructor(from: string, to: string, allowed: string[]) {
		const options = allowed.length > 0 ? `it can go to ${allowed.join(", ")}` : "it cannot move from there";
		super(`A task in '${from}' cannot move to '${to}': ${options}`, "ILLEGAL_TRANSITION", { from, to, allowed });
	}
}

/** 409 `VERSION_CONFLICT`: the task changed since the caller read it; `data.currentVersion` says what it is now. */
export class VersionConflictError extends Errors.MoleculerClientError {
	constructor(taskId: number, sentVersion: number, currentVersion: number) {
		super(
			`Task ${taskId} changed since version ${sentVersion} (it is at version ${currentVersion}): read it again and reapply your change`,
			409,
			"VERSION_CONFLICT",
			{ taskId, sentVersion, currentVersion },
		);
	}
}

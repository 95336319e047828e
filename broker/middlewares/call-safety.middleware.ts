import { Errors, type ActionSchema, type Context, type Middleware } from "moleculer";

type ActionHandler = (ctx: Context) => Promise<unknown>;

/** Whether this call may run again without a second effect: the action says so, or its idempotency key is sent. */
export function safeToRepeat(action: Pick<ActionSchema, "idempotent">, params: unknown): boolean {
	const { idempotent } = action;
	if (idempotent === true) return true;
	if (typeof idempotent !== "string") return false;
	const value = (params as Record<string, unknown> | null | undefined)?.[idempotent];
	return value !== undefined && value !== null && value !== "";
}

/** A call that failed where the action may or may not have run: repeating it blindly could do it twice. */
export class OutcomeUnknownError extends Errors.MoleculerError {
	constructor(action: string, cause: Error) {
		super(
			`${action} did not answer in time and may have taken effect; check before repeating it`,
			504,
			"OUTCOME_UNKNOWN",
			{ action, cause: cause.name },
		);
		this.retryable = false;
	}
}

/**
 * Moleculer retries every retryable error (timeouts, a node lost mid-call) on any action. That is only safe when
 * a second run is harmless: this middleware, placed just inside Retry, leaves those errors retryable for calls
 * that are safe to repeat and makes them final for the others, as a clear 504 OUTCOME_UNKNOWN when the action
 * may have run. It wraps remote calls on the caller's node, where Moleculer retries them.
 */
export const CallSafetyMiddleware: Middleware = {
	name: "CallSafety",

	localAction: guard,
	remoteAction: guard,
};

/** A timeout or a lost node of this very call (not of a call it made in turn): whether it ran is unknown. */
function outcomeUnknown(err: Errors.MoleculerError, action: string): boolean {
	const failedAction = (err.data as { action?: string } | undefined)?.action;
	return (err instanceof Errors.RequestTimeoutError || err instanceof Errors.RequestRejectedError) && failedAction === action;
}

function guard(handler: ActionHandler, action: ActionSchema): ActionHandler {
	const name = action.name ?? "the action";
	return function guardRetries(ctx: Context) {
		return handler(ctx).catch((err: Errors.MoleculerError) => {
			if (!err?.retryable || safeToRepeat(action, ctx.params)) throw err;
			if (outcomeUnknown(err, name)) throw new OutcomeUnknownError(name, err);
			// The action ran, or never started, and failed: final, as it is.
			err.retryable = false;
			throw err;
		});
	};
}

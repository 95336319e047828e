import { Errors } from "moleculer";

/** How long a client should wait before asking again while no `ai` node answers. */
const AI_RETRY_AFTER_SECONDS = 30;

/** 503: no `ai` node could embed or answer; the client may try again later (`data.retryAfter` seconds). */
export class AiUnavailableError extends Errors.MoleculerError {
	constructor(message = "The AI assistant is unavailable right now; try again in a little while") {
		super(message, 503, "AI_UNAVAILABLE", { retryAfter: AI_RETRY_AFTER_SECONDS });
	}
}

/** Whether a failed call means the service is away or overloaded (nothing to blame on the request). */
export function isServiceUnavailable(err: unknown): boolean {
	const { name, code } = (err ?? {}) as { name?: string; code?: unknown };
	return name === "ServiceNotFoundError" || name === "ServiceNotAvailableError" || code === 503;
}

import type { ErrorBody } from "../types/contract";

export type { ErrorBody };

/**
 * Any failure of a Colony call, over REST or the socket. `status` is the HTTP status (0 when no answer came:
 * network failure or timeout); `type` is the stable string to branch on (`TOKEN_EXPIRED`, `NOT_A_MEMBER`…).
 */
export class ColonyApiError extends Error {
	override readonly name = "ColonyApiError";

	constructor(
		readonly status: number,
		readonly type: string,
		message: string,
		readonly data?: unknown,
	) {
		super(message);
	}

	/** From an error body; `status` is the HTTP status when there is one, else the body's `code` is used. */
	static fromBody(body: unknown, status?: number): ColonyApiError {
		const known = isErrorBody(body) ? body : {};
		const code = status ?? (typeof known.code === "number" ? known.code : 0);
		return new ColonyApiError(
			code,
			typeof known.type === "string" ? known.type : "HTTP_ERROR",
			typeof known.message === "string" ? known.message : `Request failed with status ${code}`,
			known.data,
		);
	}
}

// What arrived may be any JSON (a proxy's error page, say): each field is checked before it is used.
function isErrorBody(value: unknown): value is Partial<ErrorBody> {
	return typeof value === "object" && value !== null;
}

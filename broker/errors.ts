import { Errors } from "moleculer";

const { MoleculerClientError } = Errors;

/** Client errors with stable `type` strings that clients can branch on. */
export class BadRequestError extends MoleculerClientError {
	constructor(message: string, type = "BAD_REQUEST", data?: unknown) {
		super(message, 400, type, data);
	}
}

export class UnauthorizedError extends MoleculerClientError {
	constructor(message: string, type = "UNAUTHORIZED", data?: unknown) {
		super(message, 401, type, data);
	}
}

export class ForbiddenError extends MoleculerClientError {
	constructor(message: string, type = "FORBIDDEN", data?: unknown) {
		super(message, 403, type, data);
	}
}

export class NotFoundError extends MoleculerClientError {
	constructor(message: string, type = "NOT_FOUND", data?: unknown) {
		super(message, 404, type, data);
	}
}

export class ConflictError extends MoleculerClientError {
	constructor(message: string, type = "CONFLICT", data?: unknown) {
		super(message, 409, type, data);
	}
}

export class TooManyRequestsError extends MoleculerClientError {
	constructor(retryAfterSeconds: number) {
		super("Too many requests, slow down", 429, "RATE_LIMITED", { retryAfter: retryAfterSeconds });
	}
}

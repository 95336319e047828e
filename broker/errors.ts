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

/** 429: the gateway answers with `Retry-After` from `data.retryAfter`. */
export class TooManyRequestsError extends MoleculerClientError {
	constructor(retryAfterSeconds: number, message = "Too many requests, slow down", type = "RATE_LIMITED") {
		super(message, 429, type, { retryAfter: retryAfterSeconds });
	}
}

/** 503 for a refusal of load, not a failure: the client should come back after `data.retryAfter` seconds. */
export class ServiceBusyError extends Errors.MoleculerError {
	constructor(message: string, retryAfterSeconds: number, type = "SERVICE_BUSY") {
		super(message, 503, type, { retryAfter: retryAfterSeconds });
	}
}

import type { ErrorBody } from "../../types/contract";

export type GatewayError = Error & { code?: number | string; type?: string; data?: unknown; status?: number };

/**
 * Turns any error into an answer a client can act on, without stack traces, SQL or echoed secrets. Errors are
 * told apart by name: they may have crossed the transporter, where Moleculer rebuilds them by name.
 */
export function toClientError(err: GatewayError): ErrorBody {
	switch (err.type) {
		case "entity.parse.failed":
			return { name: "BadRequestError", message: "Request body is not valid JSON", code: 400, type: "INVALID_JSON" };
		case "entity.too.large":
			return { name: "PayloadTooLargeError", message: "Request body is too large", code: 413, type: "PAYLOAD_TOO_LARGE" };
		case "encoding.unsupported":
		case "charset.unsupported":
			return { name: "UnsupportedMediaTypeError", message: err.message, code: 415, type: "UNSUPPORTED_MEDIA_TYPE" };
	}
	// zlib's codes (Z_DATA_ERROR…, ERR__ERROR_… for brotli) reach here when a body is not what its Content-Encoding says.
	if (typeof err.code === "string" && /^(Z_|ERR__)/.test(err.code)) {
		return { name: "BadRequestError", message: "Request body could not be decoded with its Content-Encoding", code: 400, type: "INVALID_ENCODING" };
	}
	const code = typeof err.code === "number" ? err.code : (err.status ?? 500);
	if (err.name === "ValidationError") {
		// fastest-validator echoes the rejected value in `actual`: it may be a password.
		const fields = Array.isArray(err.data)
			? (err.data as Array<Record<string, unknown>>).map(({ field, type, message }) => ({ field, type, message }))
			: undefined;
		return { name: err.name, message: "Parameters validation error!", code: 422, type: "VALIDATION_ERROR", data: fields };
	}
	// Moleculer gives these 404: to a client the route exists, its service is just not available now.
	if (err.name === "ServiceNotFoundError" || err.name === "ServiceNotAvailableError") {
		if ((err.data as { action?: string } | undefined)?.action?.startsWith("ai.")) return aiUnavailable();
		return { name: "ServiceUnavailableError", message: "Service is temporarily unavailable", code: 503, type: "SERVICE_UNAVAILABLE" };
	}
	// Moleculer's bulkhead queue is full: the server is overloaded, not the client over a limit, and the message
	// would name the node.
	if (err.name === "QueueIsFullError") {
		return { name: "ServiceBusyError", message: "The server is busy: retry in a moment", code: 503, type: "SERVICE_BUSY", data: { retryAfter: 1 } };
	}
	if (code >= 400 && code < 500) {
		return { name: err.name, message: err.message, code, type: err.type ?? "BAD_REQUEST", data: err.data };
	}
	// Which host failed and why is for the logs; the client learns that no AI host can answer now.
	if (err.type === "AI_HOST_UNAVAILABLE" || err.type === "AI_UNAVAILABLE") return aiUnavailable();
	if (err.type === "DATABASE_UNAVAILABLE" || err.type === "DATABASE_BUSY") {
		return { name: "ServiceUnavailableError", message: err.message, code: 503, type: err.type, data: err.data };
	}
	if (err.type === "SERVICE_BUSY" || err.type === "SIGN_IN_BUSY") {
		return { name: "ServiceBusyError", message: err.message, code: 503, type: err.type, data: err.data };
	}
	if (err.name === "ServiceNotFoundError" || err.name === "ServiceNotAvailableError" || code === 503) {
		return { name: "ServiceUnavailableError", message: "Service is temporarily unavailable", code: 503, type: "SERVICE_UNAVAILABLE" };
	}
	if (err.type === "OUTCOME_UNKNOWN") {
		// Says which action may have run, so the client knows what to check before repeating it.
		return { name: "GatewayTimeoutError", message: err.message, code: 504, type: "OUTCOME_UNKNOWN" };
	}
	if (err.name === "RequestTimeoutError" || code === 504) {
		return { name: "GatewayTimeoutError", message: "The request timed out", code: 504, type: "TIMEOUT" };
	}
	return { name: "InternalServerError", message: "Internal server error", code: 500, type: "INTERNAL_ERROR" };
}

function aiUnavailable(): ErrorBody {
	return { name: "ServiceUnavailableError", message: "No AI host can answer right now: try again in a moment", code: 503, type: "AI_UNAVAILABLE" };
}

import { Errors, type ActionSchema, type Context, type Middleware } from "moleculer";

type ActionHandler = (ctx: Context) => Promise<unknown>;

const RETRY_AFTER_SECONDS = 5;

/** Sequelize's errors for a database it cannot reach (refused, timed out). */
const CONNECTION_ERRORS = new Set([
	"SequelizeConnectionError",
	"SequelizeConnectionRefusedError",
	"SequelizeConnectionTimedOutError",
	"SequelizeHostNotFoundError",
	"SequelizeHostNotReachableError",
]);

/** Driver codes of a connection that died under a query (mysql2, oracledb) or could not be opened. */
const LOST_CONNECTION_CODES = new Set([
	"PROTOCOL_CONNECTION_LOST",
	"ECONNRESET",
	"ECONNREFUSED",
	"EPIPE",
	"ETIMEDOUT",
	"EHOSTUNREACH",
	"ER_SERVER_SHUTDOWN",
	"ER_CON_COUNT_ERROR",
]);

/** 503: the node's database does not answer now; the request can be repeated once it does. */
export class DatabaseUnavailableError extends Errors.MoleculerError {
	constructor(service: string) {
		super(`The ${service} database is unreachable right now: try again in a moment`, 503, "DATABASE_UNAVAILABLE", {
			retryAfter: RETRY_AFTER_SECONDS,
		});
		// The action failed at its database: another node of the same service shares that database.
		this.retryable = false;
	}
}

/** The database gave up on a transaction to let others through (deadlock victim, lock wait too long). */
const CONTENTION_CODES = new Set(["ER_LOCK_DEADLOCK", "ER_LOCK_WAIT_TIMEOUT", "SQLITE_BUSY"]);

/** 503: the database rolled the work back under contention; repeating the request is safe and likely to succeed. */
export class DatabaseBusyError extends Errors.MoleculerError {
	constructor(service: string) {
		super(`The ${service} database is busy: try again in a moment`, 503, "DATABASE_BUSY", { retryAfter: 1 });
		this.retryable = false;
	}
}

interface SequelizeLikeError {
	name?: string;
	code?: string;
	parent?: { code?: string; errno?: number };
	original?: { code?: string; errno?: number };
}

function driverCode(err: unknown): string | undefined {
	const error = err as SequelizeLikeError | null;
	if (!error || typeof error !== "object") return undefined;
	return error.parent?.code ?? error.original?.code ?? (error.name?.startsWith("Sequelize") ? error.code : undefined);
}

export function isDatabaseUnreachable(err: unknown): boolean {
	const error = err as SequelizeLikeError | null;
	if (!error || typeof error !== "object") return false;
	if (error.name && CONNECTION_ERRORS.has(error.name)) return true;
	const code = driverCode(error);
	return code !== undefined && LOST_CONNECTION_CODES.has(code);
}

/**
 * Work the database rolled back under contention, or that found no pooled connection free in time (every one busy,
 * or stuck on a database that hangs): repeating it shortly is likely to succeed.
 */
function isDatabaseBusy(err: unknown): boolean {
	const code = driverCode(err);
	return (code !== undefined && CONTENTION_CODES.has(code)) || (err as SequelizeLikeError | null)?.name === "SequelizeConnectionAcquireTimeoutError";
}

/**
 * A database that went away would otherwise surface as a bare 500 (Sequelize's connection errors are not
 * Moleculer errors). Next to the handler, it becomes `503 DATABASE_UNAVAILABLE`, and the pool reconnects by itself
 * once the database answers again; work rolled back under lock contention becomes `503 DATABASE_BUSY`.
 */
export const DatabaseUnavailableMiddleware: Middleware = {
	name: "DatabaseUnavailable",

	localAction(handler: ActionHandler, action: ActionSchema): ActionHandler {
		const service = (action.service as { name?: string } | undefined)?.name ?? "service";
		return function databaseUnavailable(ctx: Context) {
			return handler(ctx).catch((err: unknown) => {
				if (isDatabaseUnreachable(err)) throw new DatabaseUnavailableError(service);
				if (isDatabaseBusy(err)) throw new DatabaseBusyError(service);
				// Any other database failure crosses NATS without its driver details: its code goes with it, for the log
				// (the client's answer stays a plain 500). Not the SQL message, which may quote stored values.
				if ((err as SequelizeLikeError | null)?.name?.startsWith("Sequelize")) {
					const code = driverCode(err);
					const failure = new Errors.MoleculerServerError(`${service} database error ${code ?? (err as Error).name}`, 500, "DATABASE_ERROR", { code });
					// As the driver's error was: not repeated by Moleculer.
					failure.retryable = false;
					throw failure;
				}
				throw err;
			});
		};
	},
};

import { Sequelize, type Options } from "sequelize";

/**
 * A request waits at most 5 s for a pooled connection or a new one, half the 10 s request timeout: when the database
 * hangs (stopped, or cut off without a reset), the requests that come after the ones stuck on it answer 503 with a
 * reason instead of all running into the gateway's timeout.
 */
const SERVER_POOL = { min: 5, max: 20, acquire: 5_000, idle: 10_000 };
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Prepared statements each MySQL connection keeps open. Sequelize prepares every statement with bound values, and
 * an UPDATE's WHERE values are written into its text, so nearly every UPDATE is a statement of its own; mysql2
 * kept up to 16,000 per connection, and the server refuses any statement past `max_prepared_stmt_count` (16,382 by
 * default, for all clients together): chat's read markers used them all up in minutes under load. The least recently
 * used statement is closed beyond this bound, so a node holds at most pool max × this (20 × 64 = 1,280).
 */
export const MAX_PREPARED_STATEMENTS_PER_CONNECTION = 64;

/**
 * Builds a Sequelize instance from a service's DB URI: `sqlite:<file>` or `sqlite::memory:` (embedded),
 * `mysql://` or `mariadb://` (through mysql2) and `oracle://user:pass@host:port/service` (oracledb Thin mode).
 */
export function createSequelize(uri: string): Sequelize {
	const common: Options = { logging: false, benchmark: false };
	if (uri.startsWith("sqlite:")) {
		const storage = uri.slice("sqlite:".length) || ":memory:";
		return new Sequelize({ ...common, dialect: "sqlite", storage, pool: { max: 1, min: 0 } });
	}
	const url = new URL(uri);
	const protocol = url.protocol.replace(/:$/, "");
	const credentials = {
		username: decodeURIComponent(url.username),
		password: decodeURIComponent(url.password),
		host: url.hostname,
		database: decodeURIComponent(url.pathname.replace(/^\//, "")),
	};
	switch (protocol) {
		case "mysql":
		case "mariadb":
			return new Sequelize({
				...common,
				...credentials,
				dialect: "mysql",
				port: Number(url.port || 3306),
				pool: SERVER_POOL,
				dialectOptions: { connectTimeout: CONNECT_TIMEOUT_MS, charset: "utf8mb4", maxPreparedStatements: MAX_PREPARED_STATEMENTS_PER_CONNECTION },
				define: { charset: "utf8mb4", collate: "utf8mb4_bin" },
			});
		case "oracle":
			return new Sequelize({
				...common,
				...credentials,
				dialect: "oracle",
				port: Number(url.port || 1521),
				pool: SERVER_POOL,
				dialectOptions: { connectString: `${url.hostname}:${url.port || 1521}/${credentials.database}` },
			});
		default:
			throw new Error(`Unsupported database URI scheme "${protocol}" (use sqlite:, mysql:, mariadb: or oracle:)`);
	}
}

/** The URI with its password masked, for logs. */
export function redactUri(uri: string): string {
	// The last "@" before the host ends the credentials, even when an unencoded "@" sits in the password.
	return uri.replace(/(\/\/[^:/@]+:).*@(?=[^@]*$)/, "$1***@");
}

/** The file of an embedded database URI (`sqlite:<file>`), or undefined for in-memory and server databases. */
export function sqliteFile(uri: string): string | undefined {
	if (!uri.startsWith("sqlite:")) return undefined;
	const storage = uri.slice("sqlite:".length);
	return storage && storage !== ":memory:" ? storage : undefined;
}

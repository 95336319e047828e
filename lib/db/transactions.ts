import type { Sequelize, Transaction } from "sequelize";

const sqliteQueues = new WeakMap<Sequelize, Promise<unknown>>();

/**
 * Runs `work` in one transaction: committed when it resolves, rolled back when it throws. SQLite has a single
 * writer, and Sequelize gives its in-memory databases one shared connection, so on SQLite transactions of one
 * database run one after another instead of failing on each other. `work` must not start another transaction.
 */
export function inTransaction<T>(db: Sequelize, work: (transaction: Transaction) => Promise<T>): Promise<T> {
	if (db.getDialect() !== "sqlite") return db.transaction(work);
	const previous = sqliteQueues.get(db) ?? Promise.resolve();
	const run = previous.then(() => db.transaction(work));
	sqliteQueues.set(db, run.catch(() => undefined));
	return run;
}

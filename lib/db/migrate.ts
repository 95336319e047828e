import type { QueryInterface, Sequelize } from "sequelize";
import { SequelizeStorage, Umzug } from "umzug";

export interface Migration {
	name: string;
	up(queryInterface: QueryInterface): Promise<void>;
	down(queryInterface: QueryInterface): Promise<void>;
}

export interface MigrationLogger {
	info(...args: unknown[]): void;
	warn(...args: unknown[]): void;
	error(...args: unknown[]): void;
}

/**
 * Applies the migrations not yet recorded in `<database>_migrations`, in order; applied ones are never rerun.
 * On MySQL/MariaDB a named lock makes replicas that start together run them once.
 */
export async function migrate(db: Sequelize, database: string, migrations: Migration[], logger: MigrationLogger): Promise<void> {
	const umzug = new Umzug({
		migrations: migrations.map((migration) => ({
			name: migration.name,
			up: ({ context }: { context: QueryInterface }) => migration.up(context),
			down: ({ context }: { context: QueryInterface }) => migration.down(context),
		})),
		context: db.getQueryInterface(),
		storage: new SequelizeStorage({ sequelize: db, tableName: `${database}_migrations` }),
		logger: { info: (m) => logger.info("migration", m), warn: (m) => logger.warn(m), error: (m) => logger.error(m), debug: () => undefined },
	});
	if (db.getDialect() !== "mysql") {
		await umzug.up();
		return;
	}
	const lockName = `colony_migrations_${database}`;
	await db.transaction(async (transaction) => {
		await db.query("SELECT GET_LOCK(?, 60)", { replacements: [lockName], transaction });
		try {
			await umzug.up();
		} finally {
			await db.query("SELECT RELEASE_LOCK(?)", { replacements: [lockName], transaction });
		}
	});
}

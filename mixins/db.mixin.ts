import type { Context, Logger, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import DbService from "moleculer-db";
import SequelizeDbAdapter from "moleculer-db-adapter-sequelize";
import type { QueryInterface, Sequelize } from "sequelize";
import { SequelizeStorage, Umzug } from "umzug";
import { databaseUri } from "../lib/config";
import { createSequelize, redactUri } from "../lib/database";
import { registerReadinessProbe, unregisterReadinessProbe } from "../lib/readiness";

export interface Migration {
	name: string;
	up(queryInterface: QueryInterface): Promise<void>;
	down(queryInterface: QueryInterface): Promise<void>;
}

export interface DbMixinOptions {
	/** Names the database (`<SERVICE>_DB_URI`, `data/<service>.sqlite`) and the migration table. */
	database: string;
	migrations: Migration[];
}

export interface DbSettings extends ServiceSettingSchema {
	cacheCleanEventType?: "broadcast" | "emit";
	/** Overrides the URI taken from the environment, e.g. `sqlite::memory:` in tests. */
	databaseUri?: string;
}

export interface DbAdapterHandle {
	db: Sequelize;
	disconnect(): Promise<void>;
}

/** What a service mixing in the db mixin can use on `this`. */
export interface DbServiceThis {
	adapter: DbAdapterHandle;
	database: Sequelize;
	entityChanged(type: "created" | "updated" | "removed", json: unknown, ctx: Context): Promise<void>;
	clearCache(): Promise<void>;
}

type ServiceThis = Service<DbSettings> & DbServiceThis;

/** The moleculer-db Sequelize adapter, connecting to the URI the service resolves when it starts. */
class ServiceSequelizeAdapter extends SequelizeDbAdapter {
	declare opts: unknown[];
	declare db: Sequelize;

	constructor(private readonly uri: string) {
		super({});
	}

	override async connect(): Promise<void> {
		// A failed start is retried by moleculer-db with a new connection; do not leave the old pool open.
		await this.db?.close().catch(() => undefined);
		// noSync: the schema is owned by the migrations, never by model.sync().
		this.opts = [createSequelize(this.uri), undefined, undefined, { noSync: true }];
		return super.connect();
	}
}

/** Applies the migrations not yet recorded in `<database>_migrations`, in order; applied ones are never rerun. */
export async function migrate(db: Sequelize, options: DbMixinOptions, logger: Logger): Promise<void> {
	const umzug = new Umzug({
		migrations: options.migrations.map((migration) => ({
			name: migration.name,
			up: ({ context }: { context: QueryInterface }) => migration.up(context),
			down: ({ context }: { context: QueryInterface }) => migration.down(context),
		})),
		context: db.getQueryInterface(),
		storage: new SequelizeStorage({ sequelize: db, tableName: `${options.database}_migrations` }),
		logger: { info: (m) => logger.info("migration", m), warn: (m) => logger.warn(m), error: (m) => logger.error(m), debug: () => undefined },
	});
	if (db.getDialect() !== "mysql") {
		await umzug.up();
		return;
	}
	// Several replicas may start at once against one server database: a named lock runs the migrations once.
	const lockName = `colony_migrations_${options.database}`;
	await db.transaction(async (transaction) => {
		await db.query("SELECT GET_LOCK(?, 60)", { replacements: [lockName], transaction });
		try {
			await umzug.up();
		} finally {
			await db.query("SELECT RELEASE_LOCK(?)", { replacements: [lockName], transaction });
		}
	});
}

/**
 * moleculer-db on Sequelize, one database per service: dialect from the service's DB URI, schema from
 * versioned migrations, cached answers of the service cleaned on every node when its entities change.
 * The generic CRUD actions of moleculer-db are switched off: each service publishes its own contract.
 */
export function createDbMixin(options: DbMixinOptions): Partial<ServiceSchema> {
	const schema: Partial<ServiceSchema<DbSettings, Record<string, never>, DbServiceThis>> & {
		afterConnected(this: ServiceThis): Promise<void>;
	} = {
		mixins: [DbService as unknown as Partial<ServiceSchema>],
		settings: { cacheCleanEventType: "broadcast" },
		actions: {
			find: false,
			count: false,
			list: false,
			create: false,
			insert: false,
			get: false,
			update: false,
			remove: false,
		},
		events: {
			[`cache.clean.${options.database}`]() {
				return this.broker.cacher?.clean(`${this.fullName}.**`);
			},
		},
		created() {
			const uri = this.settings.databaseUri ?? databaseUri(options.database);
			const adapter = new ServiceSequelizeAdapter(uri);
			adapter.init(this.broker, this);
			this.adapter = adapter;
			this.logger.info(`Database of ${this.name}: ${redactUri(uri)}`);
		},
		async afterConnected() {
			this.database = this.adapter.db;
			await migrate(this.database, options, this.logger);
			registerReadinessProbe(this.broker, `database:${options.database}`, async () => {
				await this.database.authenticate();
				return true;
			});
		},
		stopped() {
			unregisterReadinessProbe(this.broker, `database:${options.database}`);
		},
	};
	return schema as Partial<ServiceSchema>;
}

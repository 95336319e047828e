import type { Context, Service, ServiceBroker, ServiceSchema, ServiceSettingSchema } from "moleculer";
import DbService from "moleculer-db";
import SequelizeDbAdapter from "moleculer-db-adapter-sequelize";
import type { Sequelize, Transaction } from "sequelize";
import { registerReadinessProbe, unregisterReadinessProbe } from "../broker/readiness";
import { databaseUri } from "../lib/config";
import { migrate, type Migration } from "../lib/db/migrate";
import { ensurePrivateDatabaseFile } from "../lib/db/private-files";
import { createSequelize, redactUri, sqliteFile } from "../lib/db/sequelize";
import { inTransaction } from "../lib/db/transactions";

export interface DbMixinOptions<Tables> {
	/** Names the database (`<SERVICE>_DB_URI`, `data/<service>.sqlite`) and the migration table. */
	database: string;
	migrations: Migration[];
	/** The service's tables on its connection; the schema itself is owned by the migrations. */
	defineTables(db: Sequelize): Tables;
}

export interface DbSettings extends ServiceSettingSchema {
	cacheCleanEventType?: "broadcast" | "emit";
	/** Overrides the URI taken from the environment, e.g. `sqlite::memory:` in tests. */
	databaseUri?: string;
}

/** What a service mixing in the db mixin can use on `this`. */
export interface DbServiceThis<Tables> {
	database: Sequelize;
	tables: Tables;
	/** Runs `work` in one transaction of the service's database (see lib/db/transactions). */
	transaction<T>(work: (transaction: Transaction) => Promise<T>): Promise<T>;
	/** Cleans this service's cached answers on every node (moleculer-db broadcasts `cache.clean.<service>`). */
	entityChanged(type: "created" | "updated" | "removed", json: unknown, ctx: Context): Promise<void>;
}

/**
 * moleculer-db's Sequelize adapter as connection holder: it opens the service's database from its URI, and
 * moleculer-db retries the connection until the database answers. No model is synced: migrations own the schema.
 */
class ServiceSequelizeAdapter extends SequelizeDbAdapter {
	declare db: Sequelize;

	constructor(private readonly uri: string) {
		super({});
	}

	override init(broker: ServiceBroker, service: Service): void {
		// The base class insists on a `model` in the schema; tables are defined by the service itself.
		Object.assign(this, { broker, service });
	}

	override async connect(): Promise<void> {
		// A failed start is retried by moleculer-db with a new connection; do not leave the old pool open.
		await this.db?.close().catch(() => undefined);
		// The file holds sealed bodies but clear metadata (who wrote when, where): nobody else may read it.
		const file = sqliteFile(this.uri);
		if (file) ensurePrivateDatabaseFile(file);
		this.db = createSequelize(this.uri);
		await this.db.authenticate();
	}
}

interface MixinThis<Tables> extends Service<DbSettings>, DbServiceThis<Tables> {
	adapter: ServiceSequelizeAdapter;
}

/**
 * One database per service: dialect from the service's DB URI, schema from versioned migrations, typed tables
 * on `this.tables`, and the service's cached answers cleaned on every node when its entities change.
 * The generic CRUD actions of moleculer-db are switched off: each service publishes its own contract.
 */
export function createDbMixin<Tables>(options: DbMixinOptions<Tables>): Partial<ServiceSchema> {
	const cleanCache = function (this: MixinThis<Tables>) {
		return this.broker.cacher?.clean(`${this.fullName}.**`);
	};
	const schema: Partial<ServiceSchema<DbSettings, Record<string, never>, MixinThis<Tables>>> & {
		merged(this: unknown, merged: ServiceSchema): void;
		afterConnected(this: MixinThis<Tables>): Promise<void>;
	} = {
		mixins: [DbService as unknown as Partial<ServiceSchema>],
		settings: { cacheCleanEventType: "broadcast" },
		actions: { find: false, count: false, list: false, create: false, insert: false, get: false, update: false, remove: false },
		methods: {
			transaction<T>(this: MixinThis<Tables>, work: (transaction: Transaction) => Promise<T>): Promise<T> {
				return inTransaction(this.database, work);
			},
		},
		// moleculer-db broadcasts `cache.clean.<fullName>`: the listener takes its name from the same place.
		merged(merged: ServiceSchema) {
			const fullName = merged.version === undefined ? merged.name : `v${merged.version}.${merged.name}`;
			const name = `cache.clean.${fullName}`;
			const own = merged.events?.[name];
			const ownHandler = typeof own === "function" ? own : own?.handler;
			merged.events = {
				...merged.events,
				// A listener the service has of its own stays, after the clean.
				[name]: ownHandler
					? async function (this: MixinThis<Tables>, ctx: Context) {
							await cleanCache.call(this);
							await (ownHandler as (ctx: Context) => unknown).call(this, ctx);
						}
					: cleanCache,
			};
		},
		created(this: MixinThis<Tables>) {
			const uri = this.settings.databaseUri ?? databaseUri(options.database);
			const adapter = new ServiceSequelizeAdapter(uri);
			adapter.init(this.broker, this);
			this.adapter = adapter;
			this.logger.info(`Database of ${this.name}: ${redactUri(uri)}`);
		},
		async afterConnected(this: MixinThis<Tables>) {
			this.database = this.adapter.db;
			// Readers and the writer of an embedded database do not wait for each other (the mode stays with the file).
			if (this.database.getDialect() === "sqlite") await this.database.query("PRAGMA journal_mode = WAL");
			await migrate(this.database, options.database, options.migrations, this.logger);
			this.tables = options.defineTables(this.database);
			registerReadinessProbe(this.broker, `database:${options.database}`, async () => {
				await this.database.authenticate();
				return true;
			});
		},
		stopped(this: MixinThis<Tables>) {
			unregisterReadinessProbe(this.broker, `database:${options.database}`);
		},
	};
	return schema as Partial<ServiceSchema>;
}

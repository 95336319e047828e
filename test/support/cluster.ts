import { ServiceBroker, type Middleware, type ServiceSchema } from "moleculer";
import mysql from "mysql2/promise";
import Redis from "ioredis";
import { connect as connectNats } from "nats";
import { randomBytes } from "node:crypto";
import { createBrokerOptions } from "../../moleculer.config";
import { servers } from "./servers";

/** A namespace of its own per test file: its brokers, Redis keys and database never meet another run's. */
export function uniqueNamespace(prefix: string): string {
	return `${prefix}-${randomBytes(4).toString("hex")}`;
}

/** A broker configured the way production nodes are: from environment variables, over NATS, Redis as cacher. */
export function clusterBroker(
	namespace: string,
	nodeID: string,
	schemas: ServiceSchema[],
	env: Record<string, string> = {},
	testMiddlewares: Middleware[] = [],
): ServiceBroker {
	const options = createBrokerOptions({
		NAMESPACE: namespace,
		NODE_ID: nodeID,
		TRANSPORTER: servers.nats,
		REDIS_URL: servers.redis,
		LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
		...env,
	});
	// A test's own middlewares run innermost, next to the handlers.
	const broker = new ServiceBroker({ ...options, middlewares: [...testMiddlewares, ...(options.middlewares ?? [])] });
	for (const schema of schemas) broker.createService(schema);
	return broker;
}

/** A MariaDB database created for one test file and dropped after it. */
export class TestDatabase {
	readonly name: string;

	constructor(namespace: string) {
		this.name = namespace.replace(/[^a-z0-9]/gi, "_");
	}

	get uri(): string {
		return `${servers.mariadb}/${this.name}`;
	}

	async create(): Promise<void> {
		await this.admin((conn) => conn.query(`CREATE DATABASE \`${this.name}\` CHARACTER SET utf8mb4`));
	}

	async drop(): Promise<void> {
		await this.admin((conn) => conn.query(`DROP DATABASE IF EXISTS \`${this.name}\``));
	}

	async rows(sql: string): Promise<Record<string, unknown>[]> {
		return this.admin(async (conn) => {
			await conn.query(`USE \`${this.name}\``);
			const [rows] = await conn.query(sql);
			return rows as Record<string, unknown>[];
		});
	}

	private async admin<T>(work: (conn: mysql.Connection) => Promise<T>): Promise<T> {
		const conn = await mysql.createConnection({ uri: servers.mariadb, connectTimeout: 5_000 });
		try {
			return await work(conn);
		} finally {
			await conn.end();
		}
	}
}

/** Deletes every Redis key a test namespace wrote (cacher entries, blacklist, rate-limit counters). */
export async function clearRedisNamespace(namespace: string): Promise<void> {
	const redis = new Redis(servers.redis, { lazyConnect: true, connectTimeout: 5_000 });
	try {
		await redis.connect();
		for (const pattern of [`MOL-${namespace}*`, `colony:${namespace}:*`]) {
			let cursor = "0";
			do {
				const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 500);
				if (keys.length > 0) await redis.del(...keys);
				cursor = next;
			} while (cursor !== "0");
		}
	} finally {
		redis.disconnect();
	}
}

/** Deletes the JetStream streams of a test namespace's durable queues (`<namespace>_<queue>`). */
export async function clearJetStreamNamespace(namespace: string): Promise<void> {
	const nats = await connectNats({ servers: servers.nats.replace("nats://", ""), timeout: 5_000 });
	try {
		const manager = await nats.jetstreamManager();
		for await (const stream of manager.streams.list()) {
			if (stream.config.name.startsWith(`${namespace}_`)) await manager.streams.delete(stream.config.name);
		}
	} finally {
		await nats.close();
	}
}

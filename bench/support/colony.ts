import Redis from "ioredis";
import mysql from "mysql2/promise";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { forEachLimited } from "./load";
import { freePort, NodeProcess, sleep, waitUntil } from "./processes";
import type { Cleanup } from "./supervisor";

/** The loopback servers the Colony nodes use; each can be pointed elsewhere on loopback from the environment. */
export const SERVERS = {
	mariadb: process.env.BENCH_MARIADB_URL ?? "mysql://root@127.0.0.1:3306",
	redis: process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379",
	nats: process.env.BENCH_NATS_URL ?? "nats://127.0.0.1:4222",
};

// Fixed secrets: the bench's databases are created and dropped by the run, nothing outlives it.
const JWT_SECRET = "colony-bench-jwt-secret-not-for-production-use";
const DATA_KEY = Buffer.alloc(32, 7).toString("base64");
const PASSWORD = "bench passphrase 1234";

/** Where `npm run build` puts the server; the benches run from dist/bench/. */
const SERVER_SCRIPT = resolve(__dirname, "../../server.js");

export interface ColonyCluster {
	namespace: string;
	/** The first gateway's. */
	gatewayUrl: string;
	/** The node behind the gateway, running the layout's services. */
	serviceNode: NodeProcess;
	/** The first gateway. */
	gateway: NodeProcess;
	/** Every gateway, the first one first, with its base URL. */
	gateways: { url: string; node: NodeProcess }[];
}

export interface BenchUser {
	id: number;
	username: string;
	token: string;
}

async function onMariaDb(work: (conn: mysql.Connection) => Promise<unknown>): Promise<void> {
	const conn = await mysql.createConnection({ uri: SERVERS.mariadb, connectTimeout: 5_000 });
	try {
		await work(conn);
	} finally {
		await conn.end();
	}
}

/** Deletes every Redis key a namespace wrote: cacher entries and Colony's shared state (rate-limit counters…). */
export async function clearRedisNamespace(namespace: string): Promise<void> {
	const redis = new Redis(SERVERS.redis, { lazyConnect: true, connectTimeout: 5_000, maxRetriesPerRequest: 1 });
	try {
		await redis.connect();
		for (const pattern of [`MOL-${namespace}*`, `colony:${namespace}:*`]) {
			let cursor = "0";
			// SCAN ends when the cursor comes back to 0; the cap only guards against a server that never says so.
			for (let round = 0; round < 10_000; round++) {
				const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 500);
				if (keys.length > 0) await redis.del(...keys);
				cursor = next;
				if (cursor === "0") break;
			}
		}
	} finally {
		redis.disconnect();
	}
}

async function answersOk(url: string): Promise<boolean> {
	const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
	await res.arrayBuffer();
	return res.ok;
}

export interface ClusterLayout {
	/** The services of the node behind the gateway; each gets a MariaDB database made for the run. */
	services: string[];
	/** How the run's database names start; a random tag and the service's name follow. */
	databasePrefix: string;
	/** api gateway processes, each on a port of its own (1 unless given). */
	gateways?: number;
}

/** What bench:chat measures behind the gateway. */
export const CHAT_CLUSTER: ClusterLayout = { services: ["users", "chat"], databasePrefix: "colony_bench" };

// The limiters still count every request and socket call; they just never refuse the bench's load.
const UNLIMITED = { RATE_LIMIT_PER_MIN: "100000000", SOCKET_RATE_LIMIT_PER_MIN: "100000000", SOCKET_CONNECTS_PER_MIN: "100000000" };

/**
 * What every bench cluster starts from: a namespace of its own (its Redis keys cleared after the run), a MariaDB
 * database per service made for the run (dropped after it), and the environment its nodes share.
 */
async function prepareCluster(
	cleanup: Cleanup,
	servicesWithDatabases: string[],
	databasePrefix: string,
): Promise<{ namespace: string; common: NodeJS.ProcessEnv; databaseUris: Record<string, string> }> {
	const tag = randomBytes(4).toString("hex");
	const namespace = `bench-${tag}`;
	const databases = Object.fromEntries(servicesWithDatabases.map((service) => [service, `${databasePrefix}_${tag}_${service}`]));
	cleanup.add("drop the bench databases", () =>
		onMariaDb(async (conn) => {
			for (const name of Object.values(databases)) await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
		}),
	);
	await onMariaDb(async (conn) => {
		for (const name of Object.values(databases)) await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
	});
	cleanup.add("clear the bench's Redis keys", () => clearRedisNamespace(namespace));
	const common: NodeJS.ProcessEnv = {
		...process.env,
		NODE_ENV: "development",
		NAMESPACE: namespace,
		TRANSPORTER: SERVERS.nats,
		REDIS_URL: SERVERS.redis,
		CACHER: "",
		JWT_SECRET,
		DATA_KEY,
		LOG_LEVEL: "warn",
		LOG_DIR: "",
		...UNLIMITED,
	};
	const databaseUris = Object.fromEntries(
		Object.entries(databases).map(([service, name]) => [`${service.toUpperCase()}_DB_URI`, `${SERVERS.mariadb}/${name}`]),
	);
	return { namespace, common, databaseUris };
}

/**
 * The full path as separate processes: a node running `layout.services` on MariaDB databases made for this
 * run, and an `api` gateway, joined by NATS and sharing Redis under a namespace of their own.
 */
export async function startColony(cleanup: Cleanup, track: (node: NodeProcess) => void, layout: ClusterLayout = CHAT_CLUSTER): Promise<ColonyCluster> {
	const { namespace, common, databaseUris } = await prepareCluster(cleanup, layout.services, layout.databasePrefix);
	const healthPort = await freePort();
	const serviceNodeName = `${layout.services.join(",")} node`;
	const serviceNode = new NodeProcess(serviceNodeName, SERVER_SCRIPT, {
		...common,
		SERVICES: layout.services.join(","),
		NODE_ID: `${namespace}-${layout.services.join("-")}`,
		...databaseUris,
		HEALTH_PORT: String(healthPort),
	});
	track(serviceNode);
	cleanup.add(`stop the ${serviceNodeName}`, () => serviceNode.stop());
	const gateways: { url: string; node: NodeProcess }[] = [];
	const count = layout.gateways ?? 1;
	for (let i = 1; i <= count; i++) {
		const port = await freePort();
		const name = count === 1 ? "api gateway" : `api gateway ${i}`;
		const node = new NodeProcess(name, SERVER_SCRIPT, {
			...common,
			SERVICES: "api",
			NODE_ID: `${namespace}-gateway${count === 1 ? "" : `-${i}`}`,
			HOST: "127.0.0.1",
			PORT: String(port),
		});
		track(node);
		cleanup.add(`stop the ${name}`, () => node.stop());
		gateways.push({ url: `http://127.0.0.1:${port}`, node });
	}

	// Readiness of the gateway includes reaching users.resolveToken over NATS.
	await waitUntil(() => answersOk(`http://127.0.0.1:${healthPort}/health/ready`), `the ${serviceNodeName} is ready`, 60_000);
	for (const { url, node } of gateways) await waitUntil(() => answersOk(`${url}/health/ready`), `${node.name} is ready`, 60_000);
	return { namespace, gatewayUrl: gateways[0].url, serviceNode, gateway: gateways[0].node, gateways };
}

export interface ColonyAlone {
	gatewayUrl: string;
	node: NodeProcess;
}

/** Every variable the server reads (README, "Run it as a cluster"): none is inherited by a node on defaults. */
const SERVER_SETTINGS = [
	"SERVICES", "PORT", "HOST", "HEALTH_PORT", "NODE_ID", "NAMESPACE", "TRANSPORTER", "REDIS_URL", "CACHER",
	"USERS_DB_URI", "CHAT_DB_URI", "DATA_DIR", "JWT_SECRET", "DATA_KEY", "DATA_KEY_PREVIOUS", "INDEX_KEY",
	"CORS_ORIGINS", "RATE_LIMIT_PER_MIN", "SOCKET_RATE_LIMIT_PER_MIN", "TRUSTED_PROXIES", "PRESENCE_TTL_MS",
	"REQUEST_TIMEOUT_MS", "LOG_LEVEL", "LOG_DIR", "METRICS", "TRACING", "NODE_ENV",
];

/**
 * Colony as `npm start` runs it on a fresh machine: every service in one process, the in-process transport,
 * the memory cacher and SQLite files in a data directory made for the run (and removed after it).
 */
export async function startColonyAlone(cleanup: Cleanup, track: (node: NodeProcess) => void): Promise<ColonyAlone> {
	const dataDir = mkdtempSync(join(tmpdir(), "colony-bench-"));
	cleanup.add("remove the bench's data directory", () => rmSync(dataDir, { recursive: true, force: true }));
	const port = await freePort();
	const env: NodeJS.ProcessEnv = { ...process.env };
	for (const name of SERVER_SETTINGS) delete env[name];
	const node = new NodeProcess("colony (one process)", SERVER_SCRIPT, {
		...env,
		DATA_DIR: dataDir,
		HOST: "127.0.0.1",
		PORT: String(port),
		JWT_SECRET,
		DATA_KEY,
		LOG_LEVEL: "warn",
		...UNLIMITED,
	});
	track(node);
	cleanup.add("stop the one-process Colony", () => node.stop());
	const gatewayUrl = `http://127.0.0.1:${port}`;
	await waitUntil(() => answersOk(`${gatewayUrl}/health/ready`), "the one-process Colony is ready", 60_000);
	return { gatewayUrl, node };
}

interface Answer<T> {
	status: number;
	body: T;
}

async function post<T>(baseUrl: string, path: string, body: unknown, token?: string): Promise<Answer<T>> {
	const headers: Record<string, string> = { "content-type": "application/json" };
	if (token) headers.authorization = `Bearer ${token}`;
	const res = await fetch(baseUrl + path, { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
	const text = await res.text();
	return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

async function expectStatus<T>(what: string, expected: number, answer: Promise<Answer<T>>): Promise<T> {
	const { status, body } = await answer;
	if (status !== expected) throw new Error(`${what}: HTTP ${status} ${JSON.stringify(body)}`);
	return body;
}

/** Registers and signs in `count` users through the REST API, as clients would; argon2 makes this the slow part. */
export async function signUpUsers(gatewayUrl: string, count: number): Promise<BenchUser[]> {
	const users: BenchUser[] = new Array<BenchUser>(count);
	const usernames = Array.from({ length: count }, (_, i) => `bench${String(i).padStart(4, "0")}`);
	// The first account becomes the admin; registering it alone keeps that deterministic.
	const signUp = async (username: string, i: number) => {
		const registered = await expectStatus(
			`register ${username}`,
			201,
			post<{ user: { id: number } }>(gatewayUrl, "/api/v1/auth/register", { username, email: `${username}@bench.example.com`, password: PASSWORD }),
		);
		const login = await expectStatus(
			`login ${username}`,
			200,
			post<{ accessToken: string }>(gatewayUrl, "/api/v1/auth/login", { username, password: PASSWORD }),
		);
		users[i] = { id: registered.user.id, username, token: login.accessToken };
	};
	await signUp(usernames[0], 0);
	await forEachLimited(usernames.slice(1), 4, (username, i) => signUp(username, i + 1));
	return users;
}

/**
 * Creates `channelCount` public channels named `<prefix>-<i>` and puts user u in channel u mod channelCount.
 * User i creates channel i, so no user ends up in a channel of another group.
 */
export async function createChannels(gatewayUrl: string, users: BenchUser[], prefix: string, channelCount: number): Promise<number[]> {
	const ids: number[] = [];
	for (let i = 0; i < channelCount; i++) {
		const created = await withServiceRetry(() =>
			post<{ channel: { id: number } }>(gatewayUrl, "/api/v1/channels", { name: `${prefix}-${i}`, type: "public" }, users[i].token),
		);
		if (created.status !== 201) throw new Error(`create channel ${prefix}-${i}: HTTP ${created.status} ${JSON.stringify(created.body)}`);
		ids.push(created.body.channel.id);
	}
	await forEachLimited(users.slice(channelCount), 8, (user, i) =>
		expectStatus(`${user.username} joins ${prefix}`, 200, post(gatewayUrl, `/api/v1/channels/${ids[(i + channelCount) % channelCount]}/join`, {}, user.token)).then(
			() => undefined,
		),
	);
	return ids;
}

/** The gateway may learn about the chat service a moment after users: a 503 then is retried briefly. */
async function withServiceRetry<T>(attempt: () => Promise<Answer<T>>): Promise<Answer<T>> {
	for (let round = 0; round < 50; round++) {
		const answer = await attempt();
		if (answer.status !== 503) return answer;
		await sleep(200);
	}
	return attempt();
}

export interface ServiceCluster {
	namespace: string;
	gatewayUrl: string;
	/** One process per service, in the order asked for, the `api` gateway among them. */
	nodes: { service: string; process: NodeProcess }[];
}

/**
 * Colony as production lays it out: one process per service (`SERVICES=<one>`, each its own HEALTH_PORT),
 * joined by NATS and sharing Redis under a namespace of their own. Every service but `api` gets a MariaDB
 * database made for the run (`<SERVICE>_DB_URI`); the databases and the namespace's Redis keys go after it.
 */
export async function startServiceCluster(
	cleanup: Cleanup,
	track: (node: NodeProcess) => void,
	services: string[],
	databasePrefix: string,
): Promise<ServiceCluster> {
	if (!services.includes("api")) throw new Error("a service cluster needs the api gateway");
	const { namespace, common, databaseUris } = await prepareCluster(
		cleanup,
		services.filter((service) => service !== "api"),
		databasePrefix,
	);
	const gatewayPort = await freePort();
	const nodes: { service: string; process: NodeProcess; readyUrl: string }[] = [];
	for (const service of services) {
		const healthPort = await freePort();
		const env: NodeJS.ProcessEnv = { ...common, SERVICES: service, NODE_ID: `${namespace}-${service}`, HEALTH_PORT: String(healthPort) };
		if (service === "api") Object.assign(env, { HOST: "127.0.0.1", PORT: String(gatewayPort) });
		else env[`${service.toUpperCase()}_DB_URI`] = databaseUris[`${service.toUpperCase()}_DB_URI`];
		const node = new NodeProcess(`${service} node`, SERVER_SCRIPT, env);
		track(node);
		cleanup.add(`stop the ${service} node`, () => node.stop());
		// The gateway answers its health on its own port; the other nodes on their HEALTH_PORT.
		const readyUrl = `http://127.0.0.1:${service === "api" ? gatewayPort : healthPort}/health/ready`;
		nodes.push({ service, process: node, readyUrl });
	}
	// The gateway last: its readiness includes reaching users.resolveToken over NATS.
	for (const node of [...nodes.filter((n) => n.service !== "api"), ...nodes.filter((n) => n.service === "api")]) {
		await waitUntil(() => answersOk(node.readyUrl), `the ${node.service} node is ready`, 60_000);
	}
	return { namespace, gatewayUrl: `http://127.0.0.1:${gatewayPort}`, nodes: nodes.map(({ service, process }) => ({ service, process })) };
}

/**
 * Creates `channelCount` public channels and makes each user a member of `perUser` of them, spread so every
 * channel gets the same number of members and the members of a channel come from all over the user list (users
 * joining in order fill every channel a little at a time). User i (i < channelCount) creates channel i.
 */
export async function createOverlappingChannels(
	gatewayUrl: string,
	users: BenchUser[],
	prefix: string,
	channelCount: number,
	perUser: number,
): Promise<{ channelIds: number[]; channelsOfUser: number[][] }> {
	if (channelCount < perUser || channelCount > users.length) {
		throw new Error(`cannot put ${users.length} users in ${perUser} of ${channelCount} channels each`);
	}
	const channelIds: number[] = [];
	for (let i = 0; i < channelCount; i++) {
		const created = await withServiceRetry(() =>
			post<{ channel: { id: number } }>(gatewayUrl, "/api/v1/channels", { name: `${prefix}-${i}`, type: "public" }, users[i].token),
		);
		if (created.status !== 201) throw new Error(`create channel ${prefix}-${i}: HTTP ${created.status} ${JSON.stringify(created.body)}`);
		channelIds.push(created.body.channel.id);
	}
	const stride = Math.floor(channelCount / perUser);
	const channelsOfUser = users.map((_, u) => Array.from({ length: perUser }, (_, k) => channelIds[(u + k * stride) % channelCount]));
	const joins = users.flatMap((user, u) =>
		channelsOfUser[u].filter((_, k) => !(k === 0 && u < channelCount)).map((channelId) => ({ user, channelId })),
	);
	await forEachLimited(joins, 16, ({ user, channelId }) =>
		expectStatus(`${user.username} joins channel ${channelId}`, 200, post(gatewayUrl, `/api/v1/channels/${channelId}/join`, {}, user.token)).then(
			() => undefined,
		),
	);
	return { channelIds, channelsOfUser };
}

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { dump, load } from "js-yaml";
import type { ServiceSchema } from "moleculer";
import { SERVICE_SCHEMAS } from "../../server";

interface ComposeService {
	image?: string;
	command?: string[];
	environment?: Record<string, string>;
	volumes?: string[];
	networks?: Record<string, { ipv4_address?: string } | null>;
	depends_on?: string[] | Record<string, { condition?: string; required?: boolean }>;
	healthcheck?: { test?: string[] | string };
	mem_limit?: string;
	deploy?: {
		resources?: {
			limits?: { memory?: string };
			reservations?: { devices?: { driver?: string; count?: number | string; capabilities?: string[] }[] };
		};
	};
}

const dockerDir = resolve(__dirname, "../../docker");
const composeFile = resolve(dockerDir, "docker-compose.yml");
const compose = load(readFileSync(composeFile, "utf8")) as { services: Record<string, ComposeService> };
const nodes = Object.values(compose.services).filter((service) => service.environment?.SERVICES);
const nodeEntries = Object.entries(compose.services).filter(([, service]) => service.environment?.SERVICES);

/**
 * The memory budget of a node by the service it runs: DESIGN §1's docker limits ("api 512MB, users 512MB, chat 1GB,
 * tasks 512MB, ai node 12GB incl. model host proxying, notifications 256MB"). knowledge is not in §1's list: it gets
 * chat's 1 GB, the other node holding an in-process index (its fallback when Redis cannot search vectors).
 */
const MEMORY_BUDGET: Record<string, string> = {
	api: "512MB",
	users: "512MB",
	chat: "1GB",
	tasks: "512MB",
	ai: "12GB",
	notifications: "256MB",
	knowledge: "1GB",
};

/** Bytes of a size as docker (`512m`, `1g`, `1024k`, `1073741824`) or DESIGN (`512MB`, `1GB`) writes it. */
function bytes(size: string): number {
	const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(size.trim());
	if (!match) throw new Error(`Not a size: ${size}`);
	return Number(match[1]) * 1024 ** ["", "k", "m", "g"].indexOf(match[2].toLowerCase());
}

/** The default of a `${NAME:-default}` value, or the value itself. */
function defaultOf(value: string): string {
	return /^\$\{\w+:-(.*)\}$/.exec(value)?.[1] ?? value;
}

/** The services a service waits for, with the condition it waits on. */
function dependencies(service: ComposeService): Record<string, string> {
	const dependsOn = service.depends_on ?? [];
	return Array.isArray(dependsOn)
		? Object.fromEntries(dependsOn.map((name) => [name, "service_started"]))
		: Object.fromEntries(Object.entries(dependsOn).map(([name, entry]) => [name, entry?.condition ?? "service_started"]));
}

/** The `server host:port` lines of nginx's upstream block. */
const upstreams = [...readFileSync(resolve(dockerDir, "nginx/conf.d/upstreams.conf"), "utf8").matchAll(/^\s*server\s+([\w.-]+):(\d+)/gm)].map(
	([, host, port]) => ({ host, port }),
);

type ActionEntry = { rest?: unknown; idempotent?: unknown } | false | ((...args: unknown[]) => unknown);

/** A service's actions as Moleculer merges them: its own by name over its mixins' (`false` removes one). */
function actionsOf(schema: Partial<ServiceSchema>): Record<string, ActionEntry> {
	return Object.assign({}, ...(schema.mixins ?? []).map(actionsOf), schema.actions ?? {});
}

interface ComposeTool {
	command: string[];
	/** The file as this tool reads it, on stdin. */
	input: string;
}

/**
 * The Compose of this machine: Docker's `docker compose` plugin, else the standalone `docker-compose` (Debian's
 * package, which checks a file against the Compose schema without a Docker daemon). That one is 1.29, older than
 * `depends_on.<service>.required` (Compose 2.20): it is given the file without that key, and checks the rest.
 */
function composeTool(): ComposeTool | { missing: string } {
	const works = (command: string[]) => {
		const version = spawnSync(command[0], [...command.slice(1), "version"], { encoding: "utf8", timeout: 10_000 });
		return !version.error && version.status === 0;
	};
	const file = readFileSync(composeFile, "utf8");
	if (works(["docker", "compose"])) return { command: ["docker", "compose"], input: file };
	if (works(["docker-compose"])) {
		const legacy = load(file) as { services: Record<string, ComposeService> };
		for (const service of Object.values(legacy.services)) {
			if (service.depends_on && !Array.isArray(service.depends_on)) {
				for (const dependency of Object.values(service.depends_on)) delete dependency.required;
			}
		}
		return { command: ["docker-compose"], input: dump(legacy) };
	}
	return { missing: "neither `docker compose` (Docker's plugin) nor `docker-compose` is installed" };
}

describe("docker/docker-compose.yml", () => {
	it("runs a node for every service of the codebase, so no route answers 503 there", () => {
		const hosted = new Set(nodes.flatMap((node) => node.environment!.SERVICES.split(",").map((name) => name.trim())));

		expect(Object.keys(SERVICE_SCHEMAS).filter((name) => !hosted.has(name))).toEqual([]);
	});

	it("creates every database a node is pointed at, on the MySQL 8 the nodes use, and grants it to their account", () => {
		const script = readFileSync(resolve(dockerDir, "mysql-init/01-databases.sql"), "utf8");
		const created = new Set([...script.matchAll(/CREATE DATABASE IF NOT EXISTS (\w+)/g)].map((match) => match[1]));
		const granted = new Set([...script.matchAll(/GRANT ALL PRIVILEGES ON (\w+)\.\* TO '(\w+)'@'%'/g)].map((match) => `${match[2]}@${match[1]}`));
		const mysql = compose.services.mysql;
		const uris = nodes.flatMap((node) =>
			Object.entries(node.environment!)
				.filter(([name]) => name.endsWith("_DB_URI"))
				.map(([, uri]) => /^mysql:\/\/(\w+):[^@]+@([\w.-]+):(\d+)\/(\w+)$/.exec(uri)),
		);

		expect(mysql.image).toMatch(/^mysql:8(\.|$)/);
		expect(mysql.volumes?.map((volume) => volume.split(":")).find(([, target]) => target === "/docker-entrypoint-initdb.d")?.[0]).toBe("./mysql-init");
		expect(uris.length).toBeGreaterThan(1);
		expect(uris.filter((uri) => !uri)).toEqual([]);
		for (const [, user, host, port, database] of uris as RegExpExecArray[]) {
			expect({ host, port, user }).toEqual({ host: "mysql", port: "3306", user: mysql.environment?.MYSQL_USER });
			expect(created).toContain(database);
			expect(granted).toContain(`${user}@${database}`);
		}
	});

	it("gives every node the memory limit DESIGN §1 budgets for what it runs", () => {
		const limits = nodeEntries.map(([name, node]) => {
			const services = node.environment!.SERVICES.split(",").map((service) => service.trim());
			const budget = services.reduce((sum, service) => sum + bytes(MEMORY_BUDGET[service] ?? "0"), 0);
			const limit = node.mem_limit ?? node.deploy?.resources?.limits?.memory;
			return { name, limit: limit === undefined ? undefined : bytes(limit), budget };
		});

		expect(limits.length).toBeGreaterThan(1);
		expect(limits.filter(({ budget }) => budget === 0).map(({ name }) => name)).toEqual([]);
		expect(limits.filter(({ limit, budget }) => limit !== budget)).toEqual([]);
	});

	it("caps every node's V8 heap well within its memory limit, so it collects garbage before it is killed", () => {
		const caps = nodeEntries.map(([name, node]) => {
			const heapMiB = /--max-old-space-size=(\d+)/.exec(node.environment!.NODE_OPTIONS ?? "")?.[1];
			const limit = bytes(node.mem_limit ?? node.deploy?.resources?.limits?.memory ?? "0");
			return { name, share: heapMiB === undefined ? undefined : (Number(heapMiB) * 1024 ** 2) / limit };
		});

		expect(caps.filter(({ share }) => share === undefined || share > 0.65 || share < 0.5)).toEqual([]);
	});

	it("binds every ai node to an Ollama of its own, a service with a GPU reserved, unless OLLAMA_HOST_n says otherwise", () => {
		const aiNodes = nodeEntries.filter(([, node]) => node.environment!.SERVICES.split(",").some((service) => service.trim() === "ai"));
		const bound = aiNodes.map(([name, node]) => {
			const value = node.environment!.OLLAMA_HOST ?? "";
			const host = new URL(defaultOf(value)).hostname;
			return { name, host, overridable: /^\$\{OLLAMA_HOST_\d+:-/.test(value), waits: host in dependencies(node) };
		});

		expect(bound.length).toBeGreaterThan(1);
		expect(new Set(bound.map(({ host }) => host)).size).toBe(bound.length);
		for (const { host, overridable, waits } of bound) {
			expect({ host, overridable, waits }).toEqual({ host, overridable: true, waits: true });
			const ollama = compose.services[host];
			expect(ollama?.image).toMatch(/^ollama\/ollama(:|$)/);
			expect(ollama.deploy?.resources?.reservations?.devices).toEqual(
				expect.arrayContaining([expect.objectContaining({ driver: "nvidia", count: 1, capabilities: expect.arrayContaining(["gpu"]) })]),
			);
			expect(ollama.volumes?.some((volume) => volume.endsWith(":/root/.ollama"))).toBe(true);
		}
	});

	it("runs Redis with the search module, so knowledge ranks vectors there (FT.SEARCH)", () => {
		const redisHosts = new Set(nodes.map((node) => new URL(node.environment!.REDIS_URL).hostname));
		expect([...redisHosts]).toEqual(["redis"]);
		const redis = compose.services.redis;

		// Redis Stack (whose entrypoint loads the modules, so no command of its own) or Redis 8 and later.
		const stack = /^redis\/redis-stack(-server)?(:|$)/.test(redis.image ?? "");
		const eightOrLater = /^redis:(\d+)/.exec(redis.image ?? "");
		expect(stack || Number(eightOrLater?.[1]) >= 8).toBe(true);
		if (stack) expect(redis.command).toBeUndefined();
	});

	it("starts the nodes once NATS, Redis and MySQL answer their healthchecks", () => {
		for (const name of ["nats", "redis", "mysql"]) expect(compose.services[name].healthcheck?.test).toBeDefined();
		expect(compose.services.nats.command).toEqual(expect.arrayContaining(["-js", "-sd"]));
		expect(compose.services.nats.volumes?.some((volume) => volume.endsWith(":/data"))).toBe(true);

		for (const [name, node] of nodeEntries) {
			const waits = dependencies(node);
			const needsDatabase = Object.keys(node.environment!).some((variable) => variable.endsWith("_DB_URI"));
			expect({ name, nats: waits.nats, redis: waits.redis, mysql: waits.mysql }).toEqual({
				name,
				nats: "service_healthy",
				redis: "service_healthy",
				mysql: needsDatabase ? "service_healthy" : undefined,
			});
		}
	});

	it("runs nginx with the configuration of docker/nginx", () => {
		const nginx = compose.services.nginx;
		const mount = nginx.volumes?.map((volume) => volume.split(":")).find(([source]) => resolve(dockerDir, source) === resolve(dockerDir, "nginx"));

		expect(mount).toBeDefined();
		const [, target] = mount!;
		expect(nginx.command?.[nginx.command.indexOf("-c") + 1]).toBe(`${target}/nginx.conf`);
	});

	it("sends nginx's traffic to the gateways it runs, every one of them, on their port", () => {
		const gateways = Object.entries(compose.services)
			.filter(([, service]) => service.environment?.SERVICES?.split(",").some((name) => name.trim() === "api"))
			.map(([name, service]) => ({ host: name, port: service.environment!.PORT ?? "8080" }));

		expect(upstreams.length).toBeGreaterThan(1);
		expect([...upstreams].sort((a, b) => a.host.localeCompare(b.host))).toEqual(gateways.sort((a, b) => a.host.localeCompare(b.host)));
	});

	it("lets nginx resend only what is safe to repeat: every PUT and DELETE route is idempotent", () => {
		// nginx passes a request that may have reached a gateway on to the next one unless it is a POST or PATCH.
		const resent = Object.values(SERVICE_SCHEMAS)
			.flatMap((schema) => Object.values(actionsOf(schema)))
			.filter((action) => typeof action === "object" && typeof action.rest === "string" && /^(PUT|DELETE) /.test(action.rest))
			.map((action) => action as { rest: string; idempotent?: unknown });

		expect(resent.length).toBeGreaterThan(0);
		expect(resent.filter((action) => action.idempotent !== true).map((action) => action.rest)).toEqual([]);
	});

	it("has the gateways believe X-Forwarded-For from nginx's address", () => {
		const trusted = /^\$\{TRUSTED_PROXIES:-(.*)\}$/.exec(nodes[0].environment!.TRUSTED_PROXIES ?? "")?.[1];
		const nginxAddress = compose.services.nginx.networks?.default?.ipv4_address;

		expect(nginxAddress).toBeDefined();
		expect(trusted?.split(",")).toContain(nginxAddress);
	});

	const tool = composeTool();
	if ("missing" in tool) console.warn(`\n!!! SKIPPING the Compose check of docker/docker-compose.yml: ${tool.missing}.\n`);
	("missing" in tool ? it.skip : it)("is a file Compose accepts (`config` resolves and validates it)", () => {
		const { command, input } = tool as ComposeTool;
		const check = spawnSync(command[0], [...command.slice(1), "--project-directory", dockerDir, "-f", "-", "config", "--quiet"], {
			input,
			encoding: "utf8",
			timeout: 30_000,
			// The secrets it insists on, as dummies: only the file's shape is checked.
			env: { ...process.env, JWT_SECRET: "x".repeat(32), DATA_KEY: Buffer.alloc(32).toString("base64"), MYSQL_PASSWORD: "dummy" },
		});

		expect(check.stderr).toBe("");
		expect(check.status).toBe(0);
	});
});

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { load } from "js-yaml";
import type { ServiceSchema } from "moleculer";
import { SERVICE_SCHEMAS } from "../../server";

interface ComposeService {
	command?: string[];
	environment?: Record<string, string>;
	volumes?: string[];
	networks?: Record<string, { ipv4_address?: string } | null>;
}

const dockerDir = resolve(__dirname, "../../docker");
const composeFile = resolve(dockerDir, "docker-compose.yml");
const compose = load(readFileSync(composeFile, "utf8")) as { services: Record<string, ComposeService> };
const nodes = Object.values(compose.services).filter((service) => service.environment?.SERVICES);

/** The `server host:port` lines of nginx's upstream block. */
const upstreams = [...readFileSync(resolve(dockerDir, "nginx/conf.d/upstreams.conf"), "utf8").matchAll(/^\s*server\s+([\w.-]+):(\d+)/gm)].map(
	([, host, port]) => ({ host, port }),
);

type ActionEntry = { rest?: unknown; idempotent?: unknown } | false | ((...args: unknown[]) => unknown);

/** A service's actions as Moleculer merges them: its own by name over its mixins' (`false` removes one). */
function actionsOf(schema: Partial<ServiceSchema>): Record<string, ActionEntry> {
	return Object.assign({}, ...(schema.mixins ?? []).map(actionsOf), schema.actions ?? {});
}

/** Why `docker compose config` cannot run here, or null when it can. */
function composeMissing(): string | null {
	const version = spawnSync("docker", ["compose", "version"], { encoding: "utf8", timeout: 10_000 });
	if (version.error) return "no docker client";
	if (version.status !== 0) return "the docker client has no compose plugin";
	return null;
}

describe("docker/docker-compose.yml", () => {
	it("runs a node for every service of the codebase, so no route answers 503 there", () => {
		const hosted = new Set(nodes.flatMap((node) => node.environment!.SERVICES.split(",").map((name) => name.trim())));

		expect(Object.keys(SERVICE_SCHEMAS).filter((name) => !hosted.has(name))).toEqual([]);
	});

	it("creates every database a node is pointed at", () => {
		const created = new Set([
			compose.services.mariadb.environment?.MARIADB_DATABASE,
			...[...readFileSync(resolve(dockerDir, "mariadb-init/01-databases.sql"), "utf8").matchAll(/CREATE DATABASE IF NOT EXISTS (\w+)/g)].map((match) => match[1]),
		]);
		const used = nodes.flatMap((node) =>
			Object.entries(node.environment!)
				.filter(([name]) => name.endsWith("_DB_URI"))
				.map(([, uri]) => uri.split("/").pop()!),
		);

		expect(used.length).toBeGreaterThan(1);
		expect(used.filter((database) => !created.has(database))).toEqual([]);
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

	const missing = composeMissing();
	if (missing) console.warn(`\n!!! SKIPPING the \`docker compose config\` check of docker/docker-compose.yml: ${missing}.\n`);
	(missing ? it.skip : it)("is a file `docker compose` accepts", () => {
		const check = spawnSync("docker", ["compose", "-f", composeFile, "config", "--quiet"], {
			encoding: "utf8",
			timeout: 30_000,
			// The secrets it insists on, as dummies: only the file's shape is checked.
			env: { ...process.env, JWT_SECRET: "x".repeat(32), DATA_KEY: Buffer.alloc(32).toString("base64"), MARIADB_PASSWORD: "dummy" },
		});

		expect(check.stderr).toBe("");
		expect(check.status).toBe(0);
	});
});

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { load } from "js-yaml";
import { SERVICE_SCHEMAS } from "../../server";

interface ComposeService {
	environment?: Record<string, string>;
}

const dockerDir = resolve(__dirname, "../../docker");
const compose = load(readFileSync(resolve(dockerDir, "docker-compose.yml"), "utf8")) as { services: Record<string, ComposeService> };
const nodes = Object.values(compose.services).filter((service) => service.environment?.SERVICES);

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
});

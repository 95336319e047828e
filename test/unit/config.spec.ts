import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { databaseUri, intFromEnv, isProduction, listFromEnv, loadSecrets, type Env } from "../../lib/config";

const JWT_SECRET = "a-production-jwt-secret-of-enough-length-0123";
const DATA_KEY = Buffer.alloc(32, 3).toString("base64");
const OTHER_KEY = Buffer.alloc(32, 4).toString("base64");

describe("loadSecrets", () => {
	let dataDir: string;
	let warnings: string[];
	const warn = (message: string) => warnings.push(message);

	beforeEach(() => {
		dataDir = mkdtempSync(join(tmpdir(), "colony-config-"));
		warnings = [];
	});
	afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

	describe("in production", () => {
		it("refuses to start without JWT_SECRET and DATA_KEY, naming both, and writes no secrets", () => {
			const env: Env = { NODE_ENV: "production", DATA_DIR: dataDir };

			expect(() => loadSecrets(env, warn)).toThrow("JWT_SECRET and DATA_KEY must be set when NODE_ENV=production");
			expect(existsSync(join(dataDir, "dev-secrets.json"))).toBe(false);
		});

		it("names the one secret that is missing", () => {
			expect(() => loadSecrets({ NODE_ENV: "production", JWT_SECRET }, warn)).toThrow(/^DATA_KEY must be set/);
			expect(() => loadSecrets({ NODE_ENV: "production", DATA_KEY }, warn)).toThrow(/^JWT_SECRET must be set/);
		});

		it("takes the secrets from the environment without a warning", () => {
			const secrets = loadSecrets({ NODE_ENV: "production", JWT_SECRET, DATA_KEY, DATA_DIR: dataDir }, warn);

			expect(secrets.jwtSecret).toBe(JWT_SECRET);
			expect(secrets.dataKey.equals(Buffer.from(DATA_KEY, "base64"))).toBe(true);
			expect(secrets.previousDataKeys).toEqual([]);
			expect(warnings).toEqual([]);
			expect(existsSync(join(dataDir, "dev-secrets.json"))).toBe(false);
		});
	});

	describe("outside production", () => {
		it("generates development secrets once into DATA_DIR, with a loud warning, and reuses them", () => {
			const env: Env = { DATA_DIR: dataDir };

			const first = loadSecrets(env, warn);
			const second = loadSecrets({ DATA_DIR: dataDir }, warn);

			const path = join(dataDir, "dev-secrets.json");
			expect(existsSync(path)).toBe(true);
			expect(statSync(path).mode & 0o777).toBe(0o600);
			expect(second.jwtSecret).toBe(first.jwtSecret);
			expect(second.dataKey.equals(first.dataKey)).toBe(true);
			expect(first.jwtSecret.length).toBeGreaterThanOrEqual(32);
			expect(first.dataKey).toHaveLength(32);
			expect(warnings).toHaveLength(2);
			expect(warnings[0]).toContain("JWT_SECRET and DATA_KEY not set");
			expect(warnings[0]).toContain(path);
			expect(warnings[0]).toContain("Never run like this in production");
		});

		it("creates DATA_DIR when it does not exist yet", () => {
			const nested = join(dataDir, "not", "yet");

			loadSecrets({ DATA_DIR: nested }, warn);

			expect(existsSync(join(nested, "dev-secrets.json"))).toBe(true);
		});

		it("uses the secret that is set and generates only the missing one", () => {
			const secrets = loadSecrets({ DATA_DIR: dataDir, JWT_SECRET }, warn);

			expect(secrets.jwtSecret).toBe(JWT_SECRET);
			const stored = JSON.parse(readFileSync(join(dataDir, "dev-secrets.json"), "utf8")) as { dataKey: string };
			expect(secrets.dataKey.toString("base64")).toBe(stored.dataKey);
			expect(warnings[0]).toMatch(/^!!! DATA_KEY not set/);
		});

		it("writes nothing and warns of nothing when both secrets are set", () => {
			loadSecrets({ DATA_DIR: dataDir, JWT_SECRET, DATA_KEY }, warn);

			expect(warnings).toEqual([]);
			expect(existsSync(join(dataDir, "dev-secrets.json"))).toBe(false);
		});
	});

	it("refuses a JWT_SECRET shorter than 32 characters", () => {
		expect(() => loadSecrets({ JWT_SECRET: "too-short", DATA_KEY }, warn)).toThrow("JWT_SECRET must be at least 32 characters long");
	});

	it.each([
		["DATA_KEY", { DATA_KEY: Buffer.alloc(16).toString("base64") }],
		["INDEX_KEY", { DATA_KEY, INDEX_KEY: "c2hvcnQ=" }],
		["DATA_KEY_PREVIOUS", { DATA_KEY, DATA_KEY_PREVIOUS: `${OTHER_KEY},c2hvcnQ=` }],
	])("refuses a %s that is not 32 bytes of base64", (name, env) => {
		expect(() => loadSecrets({ JWT_SECRET, ...env }, warn)).toThrow(`${name} must be 32 bytes encoded as base64`);
	});

	it("keys blind indexes with the data key unless INDEX_KEY is set", () => {
		expect(loadSecrets({ JWT_SECRET, DATA_KEY }, warn).indexKey.toString("base64")).toBe(DATA_KEY);
		expect(loadSecrets({ JWT_SECRET, DATA_KEY, INDEX_KEY: OTHER_KEY }, warn).indexKey.toString("base64")).toBe(OTHER_KEY);
	});

	it("reads the previous data keys from a comma-separated DATA_KEY_PREVIOUS", () => {
		const secrets = loadSecrets({ JWT_SECRET, DATA_KEY, DATA_KEY_PREVIOUS: ` ${OTHER_KEY} , ${DATA_KEY} ` }, warn);

		expect(secrets.previousDataKeys.map((key) => key.toString("base64"))).toEqual([OTHER_KEY, DATA_KEY]);
	});
});

describe("environment parsing", () => {
	it("isProduction is true only for NODE_ENV=production", () => {
		expect(isProduction({ NODE_ENV: "production" })).toBe(true);
		expect(isProduction({ NODE_ENV: "development" })).toBe(false);
		expect(isProduction({})).toBe(false);
	});

	it("intFromEnv takes the fallback for an unset or empty variable and reads integers", () => {
		expect(intFromEnv(undefined, 8080, "PORT")).toBe(8080);
		expect(intFromEnv("", 8080, "PORT")).toBe(8080);
		expect(intFromEnv("0", 8080, "PORT")).toBe(0);
		expect(intFromEnv("9090", 8080, "PORT")).toBe(9090);
	});

	it.each(["-1", "1.5", "eighty", "80a"])("intFromEnv refuses %p, naming the variable", (value) => {
		expect(() => intFromEnv(value, 100, "RATE_LIMIT_PER_MIN")).toThrow(
			`RATE_LIMIT_PER_MIN must be a non-negative integer, got "${value}"`,
		);
	});

	it("listFromEnv splits on commas, trims, drops empty items and falls back when blank", () => {
		expect(listFromEnv(" http://a.example , ,http://b.example,")).toEqual(["http://a.example", "http://b.example"]);
		expect(listFromEnv(undefined, ["fallback"])).toEqual(["fallback"]);
		expect(listFromEnv("   ", ["fallback"])).toEqual(["fallback"]);
		expect(listFromEnv(undefined)).toEqual([]);
	});

	it("databaseUri takes <SERVICE>_DB_URI, else a SQLite file named for the service in DATA_DIR", () => {
		expect(databaseUri("users", { USERS_DB_URI: "mysql://db/users" })).toBe("mysql://db/users");
		expect(databaseUri("chat", { DATA_DIR: "/var/lib/colony" })).toBe(`sqlite:${resolve("/var/lib/colony", "chat.sqlite")}`);
		expect(databaseUri("tasks", {})).toBe(`sqlite:${resolve("data", "tasks.sqlite")}`);
	});
});

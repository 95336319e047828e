import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { ensurePrivateDir } from "./db/private-files";
import { dirname, resolve } from "node:path";

export type Env = Record<string, string | undefined>;

export function isProduction(env: Env = process.env): boolean {
	return env.NODE_ENV === "production";
}

export function dataDir(env: Env = process.env): string {
	return resolve(env.DATA_DIR ?? "./data");
}

export function intFromEnv(value: string | undefined, fallback: number, name: string): number {
	if (value === undefined || value === "") return fallback;
	const parsed = Number(value);
	if (!Number.isInteger(parsed) || parsed < 0) {
		throw new Error(`${name} must be a non-negative integer, got "${value}"`);
	}
	return parsed;
}

export function listFromEnv(value: string | undefined, fallback: string[] = []): string[] {
	if (value === undefined || value.trim() === "") return fallback;
	return value
		.split(",")
		.map((item) => item.trim())
		.filter((item) => item.length > 0);
}

export function databaseUri(service: string, env: Env = process.env): string {
	const variable = `${service.toUpperCase()}_DB_URI`;
	return env[variable] ?? `sqlite:${resolve(dataDir(env), `${service}.sqlite`)}`;
}

export interface Secrets {
	jwtSecret: string;
	dataKey: Buffer;
	/** Older data keys, still accepted for decryption while rows are re-encrypted. */
	previousDataKeys: Buffer[];
	/** Keys the blind indexes (e.g. of emails); stays the same when DATA_KEY is rotated. */
	indexKey: Buffer;
}

interface DevSecretsFile {
	jwtSecret: string;
	dataKey: string;
}

let cachedSecrets: Secrets | undefined;

/**
 * Secrets come from the environment. Outside production a missing secret is generated once and kept in
 * DATA_DIR/dev-secrets.json, so that encrypted rows stay readable across restarts of a development install.
 */
export function loadSecrets(env: Env = process.env, log: (message: string) => void = console.warn): Secrets {
	if (cachedSecrets && env === process.env) return cachedSecrets;
	const missing = ["JWT_SECRET", "DATA_KEY"].filter((name) => !env[name]);
	if (missing.length > 0 && isProduction(env)) {
		throw new Error(`${missing.join(" and ")} must be set when NODE_ENV=production`);
	}
	const dev = missing.length > 0 ? developmentSecrets(env) : undefined;
	if (dev) {
		log(
			`!!! ${missing.join(" and ")} not set: using development-only secrets from ${devSecretsPath(env)}. ` +
				"Never run like this in production.",
		);
	}
	const dataKey = parseDataKey(env.DATA_KEY || dev!.dataKey, "DATA_KEY");
	const secrets: Secrets = {
		jwtSecret: env.JWT_SECRET || dev!.jwtSecret,
		dataKey,
		indexKey: env.INDEX_KEY ? parseDataKey(env.INDEX_KEY, "INDEX_KEY") : dataKey,
		previousDataKeys: listFromEnv(env.DATA_KEY_PREVIOUS).map((key) => parseDataKey(key, "DATA_KEY_PREVIOUS")),
	};
	if (secrets.jwtSecret.length < 32) throw new Error("JWT_SECRET must be at least 32 characters long");
	if (env === process.env) cachedSecrets = secrets;
	return secrets;
}

export function parseDataKey(value: string, name: string): Buffer {
	const key = Buffer.from(value, "base64");
	if (key.length !== 32) throw new Error(`${name} must be 32 bytes encoded as base64 (got ${key.length} bytes)`);
	return key;
}

function devSecretsPath(env: Env): string {
	return resolve(dataDir(env), "dev-secrets.json");
}

function developmentSecrets(env: Env): DevSecretsFile {
	const path = devSecretsPath(env);
	if (existsSync(path)) return JSON.parse(readFileSync(path, "utf8")) as DevSecretsFile;
	const generated: DevSecretsFile = {
		jwtSecret: randomBytes(48).toString("base64url"),
		dataKey: randomBytes(32).toString("base64"),
	};
	ensurePrivateDir(dirname(path));
	// "wx" fails if another process created the file meanwhile; then read what it wrote.
	try {
		writeFileSync(path, JSON.stringify(generated), { mode: 0o600, flag: "wx" });
		return generated;
	} catch {
		return JSON.parse(readFileSync(path, "utf8")) as DevSecretsFile;
	}
}

import { readFileSync } from "node:fs";
import { tokenAuthenticator, usernamePasswordAuthenticator, type Authenticator, type TlsOptions } from "nats";
import type { Env } from "./config";

const DEFAULT_NATS_PORT = 4222;
const CREDENTIAL_VARIABLES = ["NATS_USER", "NATS_PASSWORD", "NATS_TOKEN"];
const TLS_VARIABLES = ["NATS_TLS", "NATS_TLS_CA", "NATS_TLS_CERT", "NATS_TLS_KEY"];

/** How a node connects to NATS: the transporter and the durable queue use the same. */
export interface NatsConnection {
	/** `host:port` of each server, without credentials. */
	servers: string[];
	/** Holds the credentials in a closure, so no options object that is printed or serialized carries them. */
	authenticator?: Authenticator;
	/** Set when TLS is required; without a CA of its own it trusts the system's CAs. */
	tls?: TlsOptions;
}

interface Credentials {
	user?: string;
	pass?: string;
	token?: string;
}

interface TlsFiles {
	ca?: string;
	cert?: string;
	key?: string;
}

export function isNatsTransporter(transporter: string | undefined): boolean {
	return /^(nats|tls):\/\//i.test(transporter?.trim() ?? "");
}

/** A URL fit for a log line or an error message: whatever stands before the host (user, password, token) is masked. */
export function redactCredentials(url: string): string {
	return url.replace(/\/\/[^/@]*@/g, "//***@");
}

/**
 * The NATS connection of a `nats://` or `tls://` TRANSPORTER, secured as the environment says; undefined for any
 * other transporter. Fails at once on a contradictory setting or an unreadable certificate file, naming the variable.
 */
export function natsConnectionFrom(env: Env): NatsConnection | undefined {
	const transporter = env.TRANSPORTER?.trim();
	if (!transporter) return undefined;
	if (!isNatsTransporter(transporter)) {
		const stray = [...CREDENTIAL_VARIABLES, ...TLS_VARIABLES].filter((name) => env[name]);
		if (stray.length > 0) throw new Error(`${stray.join(", ")} apply to a nats:// or tls:// TRANSPORTER only`);
		return undefined;
	}
	const urls = transporter
		.split(",")
		.map((server) => server.trim())
		.filter((server) => server.length > 0)
		.map(serverUrl);
	return {
		servers: urls.map((url) => `${url.hostname}:${url.port || DEFAULT_NATS_PORT}`),
		authenticator: authenticatorFrom(env, credentialsInUrls(urls)),
		tls: tlsFrom(env, urls.some((url) => url.protocol === "tls:")),
	};
}

function serverUrl(server: string): URL {
	let url: URL;
	try {
		url = new URL(server);
	} catch {
		// Node's own error would carry the input, password and all.
		throw new Error(`TRANSPORTER has a server that is not a URL: ${redactCredentials(server)}`);
	}
	if (url.protocol !== "nats:" && url.protocol !== "tls:") {
		throw new Error(`TRANSPORTER: every server must be nats:// or tls://, got ${redactCredentials(server)}`);
	}
	return url;
}

function credentialsInUrls(urls: URL[]): Credentials {
	const found = urls.filter((url) => url.username || url.password).map(credentialsIn);
	const [first = {}] = found;
	const differs = found.some((other) => other.user !== first.user || other.pass !== first.pass || other.token !== first.token);
	if (differs) throw new Error("TRANSPORTER's servers carry different credentials: NATS takes one set for all of them");
	return first;
}

function credentialsIn(url: URL): Credentials {
	const name = decoded(url.username);
	// As in NATS's own clients, a name without a password is a token: nats://token@host.
	return url.password ? { user: name, pass: decoded(url.password) } : { token: name };
}

function decoded(part: string): string {
	try {
		return decodeURIComponent(part);
	} catch {
		return part;
	}
}

/** NATS_USER, NATS_PASSWORD and NATS_TOKEN win over what TRANSPORTER's URLs carry, each for its own part. */
function authenticatorFrom(env: Env, inUrl: Credentials): Authenticator | undefined {
	const user = env.NATS_USER || inUrl.user;
	const pass = env.NATS_PASSWORD || inUrl.pass;
	const token = env.NATS_TOKEN || inUrl.token;
	if (token && (user || pass)) {
		const tokenSource = env.NATS_TOKEN ? "NATS_TOKEN" : "a token in TRANSPORTER";
		const userSource = env.NATS_USER ? "NATS_USER" : inUrl.user ? "a user in TRANSPORTER" : "NATS_PASSWORD";
		throw new Error(`${tokenSource} and ${userSource} are both set: NATS authenticates with a token or with a user and password, not both`);
	}
	if (pass && !user) throw new Error("NATS_PASSWORD is set without a user: set NATS_USER (or TRANSPORTER=nats://user:password@host:4222)");
	if (user && !pass) throw new Error("NATS_USER is set without a password: set NATS_PASSWORD (or TRANSPORTER=nats://user:password@host:4222)");
	if (token) return tokenAuthenticator(token);
	if (user && pass) return usernamePasswordAuthenticator(user, pass);
	return undefined;
}

function tlsFrom(env: Env, tlsScheme: boolean): TlsOptions | undefined {
	const flag = env.NATS_TLS?.trim().toLowerCase();
	if (flag && flag !== "true" && flag !== "false") throw new Error(`NATS_TLS must be true or false, got "${env.NATS_TLS}"`);
	if (Boolean(env.NATS_TLS_CERT) !== Boolean(env.NATS_TLS_KEY)) {
		throw new Error("NATS_TLS_CERT and NATS_TLS_KEY go together: the client certificate and its private key");
	}
	const files: TlsFiles = {
		ca: pemFile(env, "NATS_TLS_CA"),
		cert: pemFile(env, "NATS_TLS_CERT"),
		key: pemFile(env, "NATS_TLS_KEY"),
	};
	const wanted = tlsScheme || Boolean(files.ca) || Boolean(files.cert);
	if (flag === "false") {
		if (wanted) throw new Error("NATS_TLS=false contradicts a tls:// TRANSPORTER, NATS_TLS_CA or NATS_TLS_CERT");
		return undefined;
	}
	return wanted || flag === "true" ? tlsOptions(files) : undefined;
}

/** The file's text; read at start, so a wrong path stops the node before it runs, named by its variable. */
function pemFile(env: Env, variable: string): string | undefined {
	const path = env[variable];
	if (!path) return undefined;
	let text: string;
	try {
		text = readFileSync(path, "utf8");
	} catch (err) {
		throw new Error(`${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
	}
	if (!text.includes("-----BEGIN ")) throw new Error(`${variable}: ${path} is not a PEM file`);
	return text;
}

function tlsOptions(files: TlsFiles): TlsOptions {
	const tls: TlsOptions = {};
	if (files.ca) tls.ca = files.ca;
	if (files.cert) tls.cert = files.cert;
	if (files.key) tls.key = files.key;
	// Moleculer answers `$node.options` with the transporter's options as JSON: the private key stays out of it.
	// Not enumerable, so the NATS client, which copies the options key by key, does not hand it to Node's TLS.
	Object.defineProperty(tls, "toJSON", { enumerable: false, value: () => ({ ...tls, ...(tls.key ? { key: "***" } : {}) }) });
	return tls;
}

/** What an operator should hear about a NATS connection that lacks authentication or TLS; undefined when it has both. */
export function unsecuredNats(nats: NatsConnection | undefined): string | undefined {
	if (!nats) return undefined;
	const missing = [
		...(nats.authenticator ? [] : ["credentials (anyone who reaches NATS joins the cluster and can call any action)"]),
		...(nats.tls ? [] : ["TLS (the cluster's traffic crosses the network readable)"]),
	];
	return missing.length > 0 ? `NATS is used without ${missing.join(" and without ")}: see NATS_USER, NATS_TLS_CA … in README` : undefined;
}

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Env } from "../../lib/config";
import { natsConnectionFrom, redactCredentials, unsecuredNats, type NatsConnection } from "../../lib/nats-connection";
import { createBrokerOptions } from "../../moleculer.config";

const CA = "-----BEGIN CERTIFICATE-----\nthe CA\n-----END CERTIFICATE-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\nthe client\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nthe client's secret key\n-----END PRIVATE KEY-----\n";

function connection(env: Env): NatsConnection {
	const nats = natsConnectionFrom(env);
	if (!nats) throw new Error("expected a NATS connection");
	return nats;
}

/** What the client sends NATS in its CONNECT: the credentials the authenticator holds. */
function credentialsSent(env: Env): unknown {
	return connection(env).authenticator?.();
}

describe("the NATS connection from the environment", () => {
	let dir: string;
	let files: { ca: string; cert: string; key: string; notPem: string };

	beforeAll(() => {
		dir = mkdtempSync(join(tmpdir(), "colony-nats-tls-"));
		files = { ca: join(dir, "ca.pem"), cert: join(dir, "client.pem"), key: join(dir, "client.key"), notPem: join(dir, "notes.txt") };
		writeFileSync(files.ca, CA);
		writeFileSync(files.cert, CERT);
		writeFileSync(files.key, KEY);
		writeFileSync(files.notPem, "not a certificate");
	});
	afterAll(() => rmSync(dir, { recursive: true, force: true }));

	it("is undefined without TRANSPORTER, and then ignores the NATS variables", () => {
		expect(natsConnectionFrom({})).toBeUndefined();
		expect(natsConnectionFrom({ NATS_USER: "colony", NATS_TLS_CA: "/nowhere" })).toBeUndefined();
	});

	it("refuses NATS variables with a transporter that is not NATS, so nobody believes it secured", () => {
		expect(() => natsConnectionFrom({ TRANSPORTER: "redis://redis:6379", NATS_PASSWORD: "p", NATS_TLS: "true" })).toThrow(
			"NATS_PASSWORD, NATS_TLS apply to a nats:// or tls:// TRANSPORTER only",
		);
		expect(natsConnectionFrom({ TRANSPORTER: "redis://redis:6379" })).toBeUndefined();
	});

	it("connects to every comma-separated server, by host and port only, without authentication or TLS", () => {
		const nats = connection({ TRANSPORTER: "nats://nats-1:4222, nats://nats-2:4333,nats://nats-3" });

		expect(nats.servers).toEqual(["nats-1:4222", "nats-2:4333", "nats-3:4222"]);
		expect(nats.authenticator).toBeUndefined();
		expect(nats.tls).toBeUndefined();
		expect(connection({ TRANSPORTER: "nats://[::1]:4222" }).servers).toEqual(["[::1]:4222"]);
	});

	describe("authentication", () => {
		it("takes a user and password from the URL, decoded, and keeps them out of the server addresses", () => {
			const nats = connection({ TRANSPORTER: "nats://colony:p%40ss%3Aword@nats:4222,nats://colony:p%40ss%3Aword@nats-2:4222" });

			expect(nats.servers).toEqual(["nats:4222", "nats-2:4222"]);
			expect(nats.authenticator?.()).toEqual({ user: "colony", pass: "p@ss:word" });
		});

		it("takes a name without a password in the URL as a token", () => {
			expect(credentialsSent({ TRANSPORTER: "nats://s3cr3t-token@nats:4222" })).toEqual({ auth_token: "s3cr3t-token" });
		});

		it("lets one server's URL carry the credentials for all", () => {
			expect(credentialsSent({ TRANSPORTER: "nats://colony:secret@nats-1:4222,nats://nats-2:4222" })).toEqual({ user: "colony", pass: "secret" });
		});

		it("refuses servers whose URLs carry different credentials", () => {
			expect(() => natsConnectionFrom({ TRANSPORTER: "nats://colony:one@nats-1:4222,nats://colony:two@nats-2:4222" })).toThrow(
				"TRANSPORTER's servers carry different credentials",
			);
		});

		it("takes NATS_USER and NATS_PASSWORD, or NATS_TOKEN", () => {
			expect(credentialsSent({ TRANSPORTER: "nats://nats:4222", NATS_USER: "colony", NATS_PASSWORD: "secret" })).toEqual({ user: "colony", pass: "secret" });
			expect(credentialsSent({ TRANSPORTER: "nats://nats:4222", NATS_TOKEN: "s3cr3t-token" })).toEqual({ auth_token: "s3cr3t-token" });
		});

		it("prefers the variables to the URL, each for its own part", () => {
			const env = { TRANSPORTER: "nats://colony:old@nats:4222", NATS_PASSWORD: "rotated" };

			expect(credentialsSent(env)).toEqual({ user: "colony", pass: "rotated" });
		});

		it.each([
			["NATS_TOKEN and NATS_USER", { NATS_TOKEN: "t", NATS_USER: "colony", NATS_PASSWORD: "p" }, "nats://nats:4222"],
			["NATS_TOKEN and a user in TRANSPORTER", { NATS_TOKEN: "t" }, "nats://colony:p@nats:4222"],
			["a token in TRANSPORTER and NATS_USER", { NATS_USER: "colony", NATS_PASSWORD: "p" }, "nats://t@nats:4222"],
		])("refuses a token together with a user (%s), naming both", (names, variables, transporter) => {
			expect(() => natsConnectionFrom({ TRANSPORTER: transporter, ...variables })).toThrow(
				`${names} are both set: NATS authenticates with a token or with a user and password, not both`,
			);
		});

		it("refuses a password without a user and a user without a password", () => {
			expect(() => natsConnectionFrom({ TRANSPORTER: "nats://nats:4222", NATS_PASSWORD: "p" })).toThrow(/^NATS_PASSWORD is set without a user/);
			expect(() => natsConnectionFrom({ TRANSPORTER: "nats://nats:4222", NATS_USER: "colony" })).toThrow(/^NATS_USER is set without a password/);
		});
	});

	describe("TLS", () => {
		it("is required with the system's CAs by a tls:// server or NATS_TLS=true", () => {
			expect(connection({ TRANSPORTER: "tls://nats:4222" }).tls).toEqual({});
			expect(connection({ TRANSPORTER: "nats://nats-1:4222,tls://nats-2:4222" }).tls).toEqual({});
			expect(connection({ TRANSPORTER: "nats://nats:4222", NATS_TLS: "true" }).tls).toEqual({});
			expect(connection({ TRANSPORTER: "tls://nats:4222" }).servers).toEqual(["nats:4222"]);
		});

		it("trusts the CA of NATS_TLS_CA and presents the client certificate of NATS_TLS_CERT and NATS_TLS_KEY, read at start", () => {
			expect(connection({ TRANSPORTER: "nats://nats:4222", NATS_TLS_CA: files.ca }).tls).toEqual({ ca: CA });
			const nats = connection({ TRANSPORTER: "tls://nats:4222", NATS_TLS_CA: files.ca, NATS_TLS_CERT: files.cert, NATS_TLS_KEY: files.key });
			expect(nats.tls).toEqual({ ca: CA, cert: CERT, key: KEY });
		});

		it.each(["NATS_TLS_CA", "NATS_TLS_CERT", "NATS_TLS_KEY"])("refuses to start when %s names a missing file, naming the variable", (variable) => {
			const env: Env = { TRANSPORTER: "nats://nats:4222", NATS_TLS_CA: files.ca, NATS_TLS_CERT: files.cert, NATS_TLS_KEY: files.key };
			env[variable] = join(dir, "missing.pem");

			expect(() => natsConnectionFrom(env)).toThrow(`${variable}: cannot read ${join(dir, "missing.pem")} (ENOENT)`);
		});

		it("refuses a file that is not PEM", () => {
			expect(() => natsConnectionFrom({ TRANSPORTER: "nats://nats:4222", NATS_TLS_CA: files.notPem })).toThrow(
				`NATS_TLS_CA: ${files.notPem} is not a PEM file`,
			);
		});

		it("refuses a client certificate without its key, and a key without its certificate", () => {
			const message = "NATS_TLS_CERT and NATS_TLS_KEY go together";
			expect(() => natsConnectionFrom({ TRANSPORTER: "nats://nats:4222", NATS_TLS_CERT: files.cert })).toThrow(message);
			expect(() => natsConnectionFrom({ TRANSPORTER: "nats://nats:4222", NATS_TLS_KEY: files.key })).toThrow(message);
		});

		it("refuses NATS_TLS other than true or false, and NATS_TLS=false with TLS asked for otherwise", () => {
			expect(() => natsConnectionFrom({ TRANSPORTER: "nats://nats:4222", NATS_TLS: "yes" })).toThrow('NATS_TLS must be true or false, got "yes"');
			expect(() => natsConnectionFrom({ TRANSPORTER: "tls://nats:4222", NATS_TLS: "false" })).toThrow(/^NATS_TLS=false contradicts/);
			expect(() => natsConnectionFrom({ TRANSPORTER: "nats://nats:4222", NATS_TLS: "false", NATS_TLS_CA: files.ca })).toThrow(/^NATS_TLS=false contradicts/);
			expect(connection({ TRANSPORTER: "nats://nats:4222", NATS_TLS: "false" }).tls).toBeUndefined();
		});
	});

	describe("secrets stay out of what is printed", () => {
		it("keeps passwords, tokens and the private key out of the transporter's options as JSON ($node.options answers with them)", () => {
			const options = createBrokerOptions({
				LOG_LEVEL: "silent",
				TRANSPORTER: "nats://colony:hunter2-password@nats:4222",
				NATS_TLS_CA: files.ca,
				NATS_TLS_CERT: files.cert,
				NATS_TLS_KEY: files.key,
			});
			const json = JSON.stringify(options.transporter);

			expect(json).not.toContain("hunter2-password");
			expect(json).not.toContain("secret key");
			expect(json).toContain('"servers":["nats:4222"]');
			expect(json).toContain("the CA");
			expect(JSON.stringify(createBrokerOptions({ LOG_LEVEL: "silent", TRANSPORTER: "nats://s3cr3t-token@nats:4222" }).transporter)).not.toContain("s3cr3t-token");
		});

		it("masks the credentials of a URL it cannot use in its error", () => {
			expect(() => natsConnectionFrom({ TRANSPORTER: "nats://colony:hunter2@nats:4222,http://colony:hunter2@web" })).toThrow(
				"TRANSPORTER: every server must be nats:// or tls://, got http://***@web",
			);
			expect(() => natsConnectionFrom({ TRANSPORTER: "nats://colony:hunter2@nats:port" })).toThrow(
				"TRANSPORTER has a server that is not a URL: nats://***@nats:port",
			);
		});

		it("redactCredentials masks users, passwords and tokens of every server", () => {
			expect(redactCredentials("nats://colony:secret@nats-1:4222,nats://token@nats-2:4222,nats://nats-3:4222")).toBe(
				"nats://***@nats-1:4222,nats://***@nats-2:4222,nats://nats-3:4222",
			);
		});
	});

	it("tells an operator what a NATS connection lacks", () => {
		expect(unsecuredNats(undefined)).toBeUndefined();
		expect(unsecuredNats(connection({ TRANSPORTER: "nats://nats:4222" }))).toMatch(/^NATS is used without credentials .* and without TLS/);
		expect(unsecuredNats(connection({ TRANSPORTER: "tls://t@nats:4222" }))).toBeUndefined();
		expect(unsecuredNats(connection({ TRANSPORTER: "tls://nats:4222" }))).toMatch(/^NATS is used without credentials \(/);
	});
});

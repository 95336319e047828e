import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./redis-server";

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";

/** PEM files of a test CA, a server certificate for 127.0.0.1 and localhost signed by it, and a client certificate. */
export interface TestCertificates {
	ca: string;
	serverCert: string;
	serverKey: string;
	clientCert: string;
	clientKey: string;
}

/** Makes a throwaway CA and the certificates it signs in `dir` with openssl; they live for a day. */
export function makeTestCertificates(dir: string): TestCertificates {
	const file = (name: string) => join(dir, name);
	const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
	const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
	openssl("req", "-x509", ...newKey, "-keyout", file("ca.key"), "-out", file("ca.pem"), "-days", "1", "-subj", "/CN=Colony test CA");
	const signed = (name: string, serial: string, extensions: string) => {
		writeFileSync(file(`${name}.ext`), extensions);
		openssl("req", ...newKey, "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`), "-subj", `/CN=colony-test-${name}`);
		openssl("x509", "-req", "-in", file(`${name}.csr`), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-set_serial", serial, "-days", "1", "-out", file(`${name}.pem`), "-extfile", file(`${name}.ext`));
	};
	// NATS's client checks the certificate of a server it reaches by IP address against "localhost".
	signed("server", "1", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
	signed("client", "2", "extendedKeyUsage=clientAuth\n");
	return { ca: file("ca.pem"), serverCert: file("server.pem"), serverKey: file("server.key"), clientCert: file("client.pem"), clientKey: file("client.key") };
}

export interface PrivateNatsOptions {
	user: string;
	password: string;
	/** The server's certificate, and the CA client certificates must be signed by (every client must present one). */
	tls: { cert: string; key: string; ca: string };
	/** JetStream's store. */
	storeDir: string;
}

/** A nats-server of the test's own, with JetStream, that demands a password and a client certificate. */
export class PrivateNats {
	private log = "";

	private constructor(
		readonly port: number,
		private readonly child: ChildProcess,
	) {
		child.stdout?.on("data", (chunk: Buffer) => (this.log += chunk.toString()));
		child.stderr?.on("data", (chunk: Buffer) => (this.log += chunk.toString()));
	}

	static async start(options: PrivateNatsOptions, timeoutMs = 10_000): Promise<PrivateNats> {
		mkdirSync(options.storeDir, { recursive: true });
		const port = await freePort();
		const args = [
			"-a", "127.0.0.1", "-p", String(port),
			"--user", options.user, "--pass", options.password,
			"--tls", "--tlscert", options.tls.cert, "--tlskey", options.tls.key, "--tlscacert", options.tls.ca, "--tlsverify",
			"-js", "-sd", options.storeDir,
		];
		const nats = new PrivateNats(port, spawn(NATS_SERVER, args, { stdio: ["ignore", "pipe", "pipe"] }));
		const deadline = Date.now() + timeoutMs;
		while (!nats.log.includes("Server is ready")) {
			if (nats.child.exitCode !== null) throw new Error(`nats-server exited during start:\n${nats.log}`);
			if (Date.now() > deadline) throw new Error(`nats-server did not start in ${timeoutMs} ms:\n${nats.log}`);
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
		return nats;
	}

	get output(): string {
		return this.log;
	}

	/** `scheme://[credentials@]127.0.0.1:port`. */
	url(scheme: "nats" | "tls", credentials?: { user: string; password: string }): string {
		const userinfo = credentials ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@` : "";
		return `${scheme}://${userinfo}127.0.0.1:${this.port}`;
	}

	async stop(): Promise<void> {
		const child = this.child;
		if (child.exitCode !== null || child.signalCode !== null) return;
		const exited = new Promise((resolve) => child.once("exit", resolve));
		child.kill("SIGTERM");
		await exited;
	}
}

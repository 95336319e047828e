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
	/** Without them, the server lets any client in. */
	user?: string;
	password?: string;
	/** The server's certificate, and the CA client certificates must be signed by (every client must present one). */
	tls?: { cert: string; key: string; ca: string };
	/** JetStream's store. */
	storeDir: string;
}

/** A nats-server of the test's own, with JetStream; it may demand a password and a client certificate. */
export class PrivateNats {
	private log = "";
	private child!: ChildProcess;

	private constructor(
		readonly port: number,
		private readonly args: string[],
	) {}

	static async start(options: PrivateNatsOptions, timeoutMs = 10_000): Promise<PrivateNats> {
		mkdirSync(options.storeDir, { recursive: true });
		const port = await freePort();
		const args = ["-a", "127.0.0.1", "-p", String(port)];
		if (options.user !== undefined) args.push("--user", options.user, "--pass", options.password ?? "");
		if (options.tls) {
			args.push("--tls", "--tlscert", options.tls.cert, "--tlskey", options.tls.key, "--tlscacert", options.tls.ca, "--tlsverify");
		}
		args.push("-js", "-sd", options.storeDir);
		const nats = new PrivateNats(port, args);
		await nats.launch(timeoutMs);
		return nats;
	}

	/** Starts the server again on the same port with the same JetStream store (after `stop`). */
	async restart(timeoutMs = 10_000): Promise<void> {
		await this.stop();
		await this.launch(timeoutMs);
	}

	private async launch(timeoutMs: number): Promise<void> {
		this.log = "";
		const child = spawn(NATS_SERVER, this.args, { stdio: ["ignore", "pipe", "pipe"] });
		this.child = child;
		child.stdout?.on("data", (chunk: Buffer) => (this.log += chunk.toString()));
		child.stderr?.on("data", (chunk: Buffer) => (this.log += chunk.toString()));
		const deadline = Date.now() + timeoutMs;
		while (!this.log.includes("Server is ready")) {
			if (child.exitCode !== null) throw new Error(`nats-server exited during start:\n${this.log}`);
			if (Date.now() > deadline) throw new Error(`nats-server did not start in ${timeoutMs} ms:\n${this.log}`);
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
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

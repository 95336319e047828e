import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, Socket, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { describeIntegration } from "./integration";

const CONFIG_DIR = resolve(__dirname, "../../docker/nginx");

function onPath(program: string, extra: string[] = []): string | null {
	const dirs = [...(process.env.PATH ?? "").split(delimiter), ...extra].filter((dir) => isAbsolute(dir));
	return dirs.map((dir) => join(dir, program)).find((path) => existsSync(path)) ?? null;
}

/** Debian's nginx (`apt-get install -y nginx`; .ci/run installs it), or NGINX_PATH. */
const nginxPath = process.env.NGINX_PATH || onPath("nginx", ["/usr/sbin", "/usr/local/sbin"]);
const opensslPath = onPath("openssl");
const missing = !nginxPath ? "no nginx (apt-get install -y nginx)" : !opensslPath ? "no openssl" : null;
if (missing && process.env.CI) throw new Error(`The nginx suite must run in CI: ${missing}`);
if (missing) console.warn(`\n!!! SKIPPING the nginx suite (test/integration/nginx.spec.ts): ${missing}.\n`);

/** `describeIntegration` when nginx and openssl are here; otherwise (outside CI only) skipped, said loudly. */
export const describeNginx: jest.Describe = missing ? describe.skip : describeIntegration;

/** One line of nginx's JSON access log (docker/nginx/nginx.conf, `colony_json`). */
export interface AccessLogEntry {
	client: string;
	method: string;
	path: string;
	status: number;
	limit: string;
	upstream: string;
}

async function freePort(): Promise<number> {
	const server = createServer();
	await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
	const { port } = server.address() as AddressInfo;
	await new Promise((done) => server.close(done));
	return port;
}

function accepts(port: number): Promise<boolean> {
	return new Promise((done) => {
		const socket = new Socket();
		socket.once("error", () => done(false));
		socket.connect(port, "127.0.0.1", () => {
			socket.destroy();
			done(true);
		});
	});
}

/**
 * The production nginx configuration (docker/nginx/nginx.conf, byte for byte) run as a child process on free
 * local ports, beside a conf.d/ of its own: docker/nginx/conf.d/upstreams.conf with the test's gateways in place of
 * the compose services, and its own listeners, self-signed certificate for 127.0.0.1, log and temp folders.
 */
export class TestNginx {
	/** Its configuration, certificate, logs and temp files; made by start(), deleted by stop(). */
	dir = "";
	httpPort = 0;
	httpsPort = 0;
	/** The self-signed certificate nginx serves: the only authority a client needs to trust. */
	certificate = "";
	private child?: ChildProcess;
	private output = "";

	/** Starts nginx in front of `gateways` (`host:port`), given in the order of the upstream file's servers. */
	async start(gateways: string[]): Promise<void> {
		this.dir = mkdtempSync(join(tmpdir(), "colony-nginx-"));
		[this.httpPort, this.httpsPort] = [await freePort(), await freePort()];
		// Workers run as an unprivileged user when the tests run as root: they must reach the temp folders.
		chmodSync(this.dir, 0o755);
		mkdirSync(join(this.dir, "conf.d"));
		this.makeCertificate();
		copyFileSync(join(CONFIG_DIR, "nginx.conf"), join(this.dir, "nginx.conf"));
		writeFileSync(join(this.dir, "conf.d/upstreams.conf"), this.upstreams(gateways));
		writeFileSync(join(this.dir, "conf.d/server.conf"), this.server());

		const child = spawn(
			nginxPath!,
			["-p", `${this.dir}/`, "-c", join(this.dir, "nginx.conf"), "-e", this.path("error.log"), "-g", `daemon off; pid ${this.path("nginx.pid")}; error_log ${this.path("error.log")} notice;`],
			{ stdio: ["ignore", "pipe", "pipe"] },
		);
		this.child = child;
		child.stdout?.on("data", (chunk: Buffer) => (this.output += chunk.toString()));
		child.stderr?.on("data", (chunk: Buffer) => (this.output += chunk.toString()));
		const deadline = Date.now() + 10_000;
		while (!(await accepts(this.httpsPort)) || !(await accepts(this.httpPort))) {
			if (child.exitCode !== null) throw new Error(`nginx exited during start:\n${this.output}\n${this.errorLog()}`);
			if (Date.now() > deadline) throw new Error(`nginx did not listen within 10 s:\n${this.output}\n${this.errorLog()}`);
			await new Promise((done) => setTimeout(done, 50));
		}
	}

	get httpsUrl(): string {
		return `https://127.0.0.1:${this.httpsPort}`;
	}

	accessLog(): AccessLogEntry[] {
		const file = this.path("access.log");
		if (!existsSync(file)) return [];
		return readFileSync(file, "utf8")
			.split("\n")
			.filter((line) => line.trim())
			.map((line) => JSON.parse(line) as AccessLogEntry);
	}

	errorLog(): string {
		const file = this.path("error.log");
		return existsSync(file) ? readFileSync(file, "utf8") : "";
	}

	/** Stops nginx at once (open sockets are cut) and deletes its folder. */
	async stop(): Promise<void> {
		const child = this.child;
		if (child && child.exitCode === null && child.signalCode === null) {
			const exited = new Promise((done) => child.once("exit", done));
			child.kill("SIGTERM");
			const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
			await exited;
			clearTimeout(timer);
		}
		if (this.dir) rmSync(this.dir, { recursive: true, force: true });
	}

	private path(name: string): string {
		return join(this.dir, name);
	}

	private makeCertificate(): void {
		execFileSync(
			opensslPath!,
			["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=localhost",
				"-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", this.path("colony.key"), "-out", this.path("colony.crt")],
			{ stdio: "pipe" },
		);
		this.certificate = readFileSync(this.path("colony.crt"), "utf8");
	}

	/** The production upstream file, each server's address replaced by a test gateway's; its parameters stay. */
	private upstreams(gateways: string[]): string {
		const production = readFileSync(join(CONFIG_DIR, "conf.d/upstreams.conf"), "utf8");
		let next = 0;
		const rendered = production.replace(/^(\s*server\s+)[\w.-]+:\d+/gm, (_, prefix: string) => `${prefix}${gateways[next++] ?? "missing"}`);
		if (next !== gateways.length) throw new Error(`docker/nginx/conf.d/upstreams.conf names ${next} gateways, the test runs ${gateways.length}`);
		return rendered;
	}

	private server(): string {
		return [
			`listen 127.0.0.1:${this.httpPort};`,
			`listen 127.0.0.1:${this.httpsPort} ssl;`,
			`ssl_certificate ${this.path("colony.crt")};`,
			`ssl_certificate_key ${this.path("colony.key")};`,
			`access_log ${this.path("access.log")} colony_json;`,
			// Debian's nginx would otherwise create its temp folders under /var/lib/nginx.
			...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) => `${kind}_temp_path ${this.path(`${kind}_temp`)};`),
			"",
		].join("\n");
	}
}

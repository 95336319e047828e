import { createServer, connect, type Server, type Socket } from "node:net";

/**
 * A TCP proxy on 127.0.0.1 in front of a real server, so a test can make that server unreachable for one client
 * without stopping it for everyone else.
 */
export class TcpProxy {
	private readonly sockets = new Set<Socket>();
	private server?: Server;
	private listenPort = 0;
	private frozen = false;

	constructor(
		private readonly targetHost: string,
		private readonly targetPort: number,
	) {}

	get port(): number {
		return this.listenPort;
	}

	async start(): Promise<number> {
		await this.listen();
		return this.listenPort;
	}

	/** As if the server went away: every open connection is destroyed and new ones are refused. */
	async cut(): Promise<void> {
		const server = this.server;
		this.server = undefined;
		for (const socket of this.sockets) socket.destroy();
		this.sockets.clear();
		if (server) await new Promise((resolve) => server.close(resolve));
	}

	/**
	 * As if the server hung (stopped with SIGSTOP, or cut off without a reset): connections stay open, but nothing
	 * passes in either direction, and new connections are accepted and never answered. `thaw` lets it all through.
	 */
	freeze(): void {
		this.frozen = true;
		for (const socket of this.sockets) socket.pause();
	}

	thaw(): void {
		this.frozen = false;
		for (const socket of this.sockets) socket.resume();
	}

	/** Accepts connections again, on the same port. */
	async restore(): Promise<void> {
		this.thaw();
		if (!this.server) await this.listen();
	}

	async stop(): Promise<void> {
		await this.cut();
	}

	private listen(): Promise<void> {
		const server = createServer((client) => {
			const upstream = connect(this.targetPort, this.targetHost);
			for (const socket of [client, upstream]) {
				this.sockets.add(socket);
				socket.once("close", () => this.sockets.delete(socket));
				socket.on("error", () => undefined);
			}
			client.on("close", () => upstream.destroy());
			upstream.on("close", () => client.destroy());
			client.pipe(upstream).pipe(client);
			if (this.frozen) {
				client.pause();
				upstream.pause();
			}
		});
		this.server = server;
		return new Promise((resolve, reject) => {
			server.once("error", reject);
			server.listen(this.listenPort, "127.0.0.1", () => {
				this.listenPort = (server.address() as { port: number }).port;
				resolve();
			});
		});
	}
}

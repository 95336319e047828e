import { Socket } from "node:net";

/** The real servers integration suites use; each URL can be pointed elsewhere from the environment. */
export const servers = {
	mariadb: process.env.TEST_MARIADB_URL ?? "mysql://root@127.0.0.1:3306",
	redis: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
	nats: process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222",
};

export function isReachable(url: string, timeoutMs = 1_000): Promise<boolean> {
	const { hostname, port } = new URL(url);
	return new Promise((resolve) => {
		const socket = new Socket();
		const done = (ok: boolean) => {
			socket.destroy();
			resolve(ok);
		};
		socket.setTimeout(timeoutMs, () => done(false));
		socket.once("error", () => done(false));
		socket.connect(Number(port), hostname, () => done(true));
	});
}

export async function unreachableServers(): Promise<string[]> {
	const entries = Object.entries(servers);
	const results = await Promise.all(entries.map(([, url]) => isReachable(url)));
	return entries.filter((_, i) => !results[i]).map(([name, url]) => `${name} (${url})`);
}

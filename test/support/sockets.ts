import { io, type Socket } from "socket.io-client";

/** A raw socket.io client as a browser would open it, without reconnection so tests see each outcome. */
export function openSocket(url: string, token?: string): Socket {
	return io(url, { auth: token ? { token } : {}, reconnection: false, transports: ["websocket"] });
}

export function connected(socket: Socket): Promise<Socket> {
	return new Promise((resolve, reject) => {
		socket.once("connect", () => resolve(socket));
		socket.once("connect_error", reject);
	});
}

export function connectSocket(url: string, token: string): Promise<Socket> {
	return connected(openSocket(url, token));
}

/** moleculer-io's `call`: resolves with the result, rejects with the error the gateway answered. */
export function callAction<T>(socket: Socket, action: string, params: unknown = {}): Promise<T> {
	return new Promise((resolve, reject) => {
		socket.timeout(10_000).emit("call", action, params, (timeout: Error | null, err: unknown, result: T) => {
			if (timeout) reject(timeout);
			else if (err) reject(err);
			else resolve(result);
		});
	});
}

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, type Socket } from "socket.io";
import type { MessageView } from "../types/chat";

/**
 * The baseline of bench/chat.ts: socket.io alone, in its own process. A socket joins the room named in its
 * handshake; its `send` is broadcast to that room with io.to(room).emit, in the shape Colony pushes, so the two
 * runs differ only in what Colony does between the socket and the broadcast (auth, storage, NATS).
 */
interface SendPayload {
	room?: unknown;
	text?: unknown;
}

type Ack = (err: { message: string } | null, result?: { message: MessageView }) => void;

const http = createServer();
// The same engine settings as the Colony gateway's socket.io (mixins/socket-gateway.mixin.ts).
const io = new Server(http, { pingInterval: 10_000, pingTimeout: 10_000, maxHttpBufferSize: 64 * 1024, serveClient: false });
let lastId = 0;

io.on("connection", (socket: Socket) => {
	const room = (socket.handshake.auth as { room?: unknown }).room;
	if (typeof room === "string") void socket.join(room);
	socket.on("send", (payload: SendPayload, ack?: Ack) => {
		const reply: Ack = typeof ack === "function" ? ack : () => undefined;
		if (typeof payload?.room !== "string" || typeof payload.text !== "string" || !socket.rooms.has(payload.room)) {
			reply({ message: "send { room, text } to a room this socket is in" });
			return;
		}
		const message: MessageView = {
			id: ++lastId,
			channelId: Number(payload.room.split(":")[1]) || 0,
			userId: 0,
			parentId: null,
			text: payload.text,
			mentions: [],
			reactions: [],
			clientMsgId: null,
			editedAt: null,
			deletedAt: null,
			createdAt: new Date().toISOString(),
		};
		io.to(payload.room).emit("chat.message", message);
		reply(null, { message });
	});
});

http.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
	// bench/chat.ts reads the port from this line.
	console.log(`bare socket.io listening on port ${(http.address() as AddressInfo).port}`);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
	process.once(signal, () => {
		void io.close(() => process.exit(0));
		setTimeout(() => process.exit(0), 2_000).unref();
	});
}

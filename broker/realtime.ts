/** Broadcast to every gateway node; each delivers to the sockets connected to it, so each socket gets it once. */
export const PUSH_EVENT = "gateway.push";
export const JOIN_EVENT = "gateway.join";

export interface PushPayload {
	/** Socket rooms (`user:<id>`, `channel:<id>`); empty means every connected socket. */
	rooms: string[];
	/** Rooms whose sockets are left out, e.g. the typing user's own. */
	exceptRooms?: string[];
	event: string;
	data: unknown;
}

export interface JoinPayload {
	/** The sockets of this room (usually `user:<id>`)… */
	room: string;
	/** …join these rooms. */
	join: string[];
	leave?: string[];
}

/** A Context or a ServiceBroker. */
interface Emitter {
	broadcast<D>(eventName: string, data: D, opts?: Record<string, unknown>): Promise<void>;
}

const TO_GATEWAYS = { groups: ["api"] };

// Broadcasts from one node reach each gateway in the order they were sent, which keeps a channel's events in order.
export function pushToSockets(emitter: Emitter, payload: PushPayload): Promise<void> {
	return emitter.broadcast(PUSH_EVENT, payload, TO_GATEWAYS);
}

export function joinRooms(emitter: Emitter, payload: JoinPayload): Promise<void> {
	return emitter.broadcast(JOIN_EVENT, payload, TO_GATEWAYS);
}

export const userRoom = (userId: number) => `user:${userId}`;
export const channelRoom = (channelId: number) => `channel:${channelId}`;

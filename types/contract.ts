/**
 * The parts of the public contract (DESIGN §4–§5) that the services and the client SDK in `client/` share, so
 * the two cannot drift apart.
 */

/** Longest message a client may send, in characters. */
export const MAX_MESSAGE_LENGTH = 4_000;

/** What `presence` answers; `unknown` while the presence store cannot be reached. */
export type PresenceStatus = "online" | "away" | "offline" | "unknown";

/** Every error answer, over REST and over a socket `call` acknowledgement. */
export interface ErrorBody {
	name: string;
	message: string;
	code: number;
	/** A stable string clients branch on, e.g. `USER_EXISTS`, `TOKEN_EXPIRED`. */
	type: string;
	data?: unknown;
}

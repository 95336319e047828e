import type { Permission, Role } from "../lib/auth/permissions";
import type { Revocation } from "../lib/auth/revocations";

/** A user as every API answer shows it: never the password hash or the encrypted email. */
export interface PublicUser {
	id: number;
	username: string;
	/** Shown to the user themself and to user admins only. */
	email?: string;
	displayName: string;
	roles: Role[];
	createdAt: string;
	/** Set on the assistant's account only: its messages are the AI's answers. */
	assistant?: true;
}

/** Where to write to a user (`users.contact`, internal): for notifications by email. */
export interface UserContact {
	id: number;
	displayName: string;
	email: string;
}

/** The account the AI assistant writes as (`users.assistant`). */
export interface AssistantAccount {
	id: number;
	username: string;
	displayName: string;
}

/** Who is calling: put in `ctx.meta.user` by the gateway after `users.resolveToken`. */
export interface SessionUser {
	id: number;
	username: string;
	displayName: string;
	roles: Role[];
	permissions: Permission[];
	/** The access token's id and expiry (epoch seconds). */
	tokenId: string;
	tokenExpiresAt: number;
	/** The sign-in the token belongs to (its refresh-token family): logout ends all of it. */
	sessionId: string;
}

/** Set by the gateway on the call a client made (REST or socket), so the access middleware judges that call only. */
export interface ClientCall {
	via: "rest" | "socket";
	/** The action the client called; calls it makes in turn are internal. */
	action: string;
	/** The client's address as the gateway judged it (forwarded only by trusted proxies). */
	ip?: string;
}

export interface RequestMeta {
	user?: SessionUser | null;
	$client?: ClientCall;
	/** The socket a socket call came from. */
	$socketId?: string;
	/** Read by moleculer-web to set the HTTP status of a successful answer. */
	$statusCode?: number;
	/** Read by moleculer-web for the Location header of a 201 answer. */
	$location?: string;
	/** Read by moleculer-web for the Content-Type of an answer, e.g. a stream of NDJSON lines. */
	$responseType?: string;
}

/** The meta of an action open to signed-in users only: the access middleware guarantees the caller. */
export interface CallerMeta extends RequestMeta {
	user: SessionUser;
}

export interface TokenPair {
	accessToken: string;
	refreshToken: string;
	expiresIn: number;
}

export interface UserCreatedEvent {
	user: PublicUser;
}

/** Broadcast to every node: a session ended, its access tokens must be refused and its sockets dropped. */
export interface SessionRevokedEvent {
	revocation: Revocation;
}

/** Broadcast to every node: what the gateways keep of this user (roles, names) is out of date. */
export interface SessionChangedEvent {
	userId: number;
}

export interface UserRolesChangedEvent {
	user: PublicUser;
	previousRoles: Role[];
	/** The admin who changed them; null when an operator did, from a node (`users.grantRole`). */
	changedBy: number | null;
}

/** What a role change did (`users.grantRole`). */
export interface RoleChange {
	user: PublicUser;
	previousRoles: Role[];
}

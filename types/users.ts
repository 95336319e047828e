import type { Permission, Role } from "../lib/permissions";

/** A user as every API answer shows it: never the password hash or the encrypted email. */
export interface PublicUser {
	id: number;
	username: string;
	/** Shown to the user themself and to user admins only. */
	email?: string;
	displayName: string;
	roles: Role[];
	createdAt: string;
}

/** Who is calling: put in `ctx.meta.user` by the gateway after `users.resolveToken`. */
export interface SessionUser {
	id: number;
	username: string;
	displayName: string;
	roles: Role[];
	permissions: Permission[];
	/** The access token's id and expiry, so logout can blacklist exactly this token. */
	tokenId: string;
	tokenExpiresAt: number;
}

export interface RequestMeta {
	user?: SessionUser | null;
	/** Read by moleculer-web to set the HTTP status of a successful answer. */
	$statusCode?: number;
	/** Read by moleculer-web for the Location header of a 201 answer. */
	$location?: string;
}

export interface TokenPair {
	accessToken: string;
	refreshToken: string;
	expiresIn: number;
}

export interface UserCreatedEvent {
	user: PublicUser;
}

export interface UserRolesChangedEvent {
	user: PublicUser;
	previousRoles: Role[];
	changedBy: number;
}

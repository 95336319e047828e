import jwt from "jsonwebtoken";
import { createSecretKey, randomUUID, type KeyObject } from "node:crypto";

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
export const REFRESH_TOKEN_TTL_SECONDS = 7 * 24 * 60 * 60;

const ISSUER = "colony";
const AUDIENCE = "colony";
const ALGORITHM = "HS256";
/** A user id as the database holds it: decimal, 1 to 2^31 - 1. */
const USER_ID = /^[1-9]\d{0,9}$/;
const MAX_USER_ID = 2_147_483_647;

export interface AccessTokenClaims {
	userId: number;
	/** The sign-in (refresh-token family) the token belongs to: logging out ends every token of it. */
	sessionId: string;
	jti: string;
	exp: number;
	iat: number;
}

export interface SignedAccessToken {
	token: string;
	jti: string;
	expiresIn: number;
}

export type TokenProblem = "expired" | "invalid";

export class TokenError extends Error {
	constructor(readonly problem: TokenProblem, message: string) {
		super(message);
	}
}

/**
 * Signs and verifies access tokens: HS256 only (`alg: none` and key-confusion tokens fail), issuer and exactly one
 * audience, a decimal subject and a session id. The key object is built once: given a string, jsonwebtoken tries
 * to read it as a public key on every verification first.
 */
export class AccessTokens {
	private readonly key: KeyObject;
	/** Tokens verified before, with their claims: a client sends the same token with every request. */
	private readonly verified = new Map<string, AccessTokenClaims>();

	constructor(
		secret: string,
		private readonly cacheSize = 10_000,
	) {
		this.key = createSecretKey(Buffer.from(secret, "utf8"));
	}

	sign(userId: number, sessionId: string, ttlSeconds = ACCESS_TOKEN_TTL_SECONDS): SignedAccessToken {
		const jti = randomUUID();
		const token = jwt.sign({ sid: sessionId }, this.key, {
			algorithm: ALGORITHM,
			subject: String(userId),
			jwtid: jti,
			issuer: ISSUER,
			audience: AUDIENCE,
			expiresIn: ttlSeconds,
		});
		return { token, jti, expiresIn: ttlSeconds };
	}

	/** The claims of a valid token; a signature checked once stays checked, its expiry is checked every time. */
	verify(token: string): AccessTokenClaims {
		const known = this.verified.get(token);
		if (known) {
			if (known.exp * 1000 > Date.now()) return known;
			this.verified.delete(token);
			throw new TokenError("expired", "Token has expired");
		}
		const claims = this.check(token);
		// Maps keep insertion order: the oldest entry goes first when full.
		if (this.verified.size >= this.cacheSize) this.verified.delete(this.verified.keys().next().value!);
		this.verified.set(token, claims);
		return claims;
	}

	private check(token: string): AccessTokenClaims {
		let claims: string | jwt.JwtPayload;
		try {
			claims = jwt.verify(token, this.key, { algorithms: [ALGORITHM], issuer: ISSUER, audience: AUDIENCE });
		} catch (err) {
			if (err instanceof jwt.TokenExpiredError) throw new TokenError("expired", "Token has expired");
			throw new TokenError("invalid", `Token is invalid: ${(err as Error).message}`);
		}
		if (typeof claims === "string") throw new TokenError("invalid", "Token has no claims");
		const { sub, sid, jti, exp, iat, aud } = claims as jwt.JwtPayload & { sid?: unknown };
		// jsonwebtoken accepts an audience list that contains ours, and Number() reads "0x4" as 4: neither is ours.
		if (aud !== AUDIENCE || typeof sub !== "string" || !USER_ID.test(sub) || Number(sub) > MAX_USER_ID) {
			throw new TokenError("invalid", "Token names no user of this platform");
		}
		if (typeof sid !== "string" || sid.length === 0 || sid.length > 64 || !jti || !exp || !iat) {
			throw new TokenError("invalid", "Token is missing required claims");
		}
		return { userId: Number(sub), sessionId: sid, jti, exp, iat };
	}
}

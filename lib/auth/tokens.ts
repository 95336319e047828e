import jwt from "jsonwebtoken";
import { randomUUID } from "node:crypto";

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
export const REFRESH_TOKEN_TTL_SECONDS = 7 * 24 * 60 * 60;

const ISSUER = "colony";
const AUDIENCE = "colony";
const ALGORITHM = "HS256";

export interface AccessTokenClaims {
	sub: string;
	jti: string;
	exp: number;
	iat: number;
}

export type TokenProblem = "expired" | "invalid";

export class TokenError extends Error {
	constructor(readonly problem: TokenProblem, message: string) {
		super(message);
	}
}

export function signAccessToken(userId: number, secret: string, ttlSeconds = ACCESS_TOKEN_TTL_SECONDS) {
	const jti = randomUUID();
	const token = jwt.sign({}, secret, {
		algorithm: ALGORITHM,
		subject: String(userId),
		jwtid: jti,
		issuer: ISSUER,
		audience: AUDIENCE,
		expiresIn: ttlSeconds,
	});
	return { token, jti, expiresIn: ttlSeconds };
}

/** Verifies signature, algorithm (only HS256: `alg: none` and key-confusion tokens fail), expiry and audience. */
export function verifyAccessToken(token: string, secret: string): AccessTokenClaims {
	try {
		const claims = jwt.verify(token, secret, { algorithms: [ALGORITHM], issuer: ISSUER, audience: AUDIENCE });
		if (typeof claims === "string" || !claims.sub || !claims.jti || !claims.exp || !claims.iat) {
			throw new TokenError("invalid", "Token is missing required claims");
		}
		return { sub: claims.sub, jti: claims.jti, exp: claims.exp, iat: claims.iat };
	} catch (err) {
		if (err instanceof TokenError) throw err;
		if (err instanceof jwt.TokenExpiredError) throw new TokenError("expired", "Token has expired");
		throw new TokenError("invalid", `Token is invalid: ${(err as Error).message}`);
	}
}

import jwt from "jsonwebtoken";
import { ACCESS_TOKEN_TTL_SECONDS, signAccessToken, TokenError, verifyAccessToken } from "../../lib/auth/tokens";

const SECRET = "unit-test-secret-that-is-long-enough-0123456789";

function problemOf(verify: () => unknown): string | undefined {
	try {
		verify();
		return undefined;
	} catch (err) {
		return err instanceof TokenError ? err.problem : "not a TokenError";
	}
}

describe("access tokens", () => {
	it("verify to the user and token id they were signed for, valid for 15 minutes by default", () => {
		const signed = signAccessToken(42, SECRET);

		const claims = verifyAccessToken(signed.token, SECRET);

		expect(claims).toMatchObject({ sub: "42", jti: signed.jti });
		expect(claims.exp - claims.iat).toBe(ACCESS_TOKEN_TTL_SECONDS);
		expect(signed.expiresIn).toBe(15 * 60);
	});

	it("get a fresh id each time, so logging out one token leaves the others valid", () => {
		expect(signAccessToken(42, SECRET).jti).not.toBe(signAccessToken(42, SECRET).jti);
	});

	it("live as long as asked", () => {
		const { token, expiresIn } = signAccessToken(42, SECRET, 60);
		const claims = verifyAccessToken(token, SECRET);

		expect(expiresIn).toBe(60);
		expect(claims.exp - claims.iat).toBe(60);
	});

	it("are reported expired once past their expiry", () => {
		const token = jwt.sign({}, SECRET, { subject: "42", jwtid: "j", issuer: "colony", audience: "colony", expiresIn: -1 });

		expect(problemOf(() => verifyAccessToken(token, SECRET))).toBe("expired");
	});

	it.each<[string, () => string]>([
		["signed with another secret", () => signAccessToken(42, "another-secret-that-is-long-enough-0123456789").token],
		["unsigned (alg none)", () => jwt.sign({ sub: "42", jti: "j", iss: "colony", aud: "colony" }, "", { algorithm: "none" })],
		["without a subject", () => jwt.sign({}, SECRET, { jwtid: "j", issuer: "colony", audience: "colony", expiresIn: 60 })],
		["without an id", () => jwt.sign({}, SECRET, { subject: "42", issuer: "colony", audience: "colony", expiresIn: 60 })],
		["without an expiry", () => jwt.sign({}, SECRET, { subject: "42", jwtid: "j", issuer: "colony", audience: "colony" })],
		["not a JWT", () => "garbage"],
	])("are refused as invalid when %s", (_case, token) => {
		expect(problemOf(() => verifyAccessToken(token(), SECRET))).toBe("invalid");
	});
});

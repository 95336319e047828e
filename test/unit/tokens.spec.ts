import jwt from "jsonwebtoken";
import { ACCESS_TOKEN_TTL_SECONDS, AccessTokens, TokenError } from "../../lib/auth/tokens";

const SECRET = "unit-test-secret-that-is-long-enough-0123456789";
const tokens = new AccessTokens(SECRET);
const base = { issuer: "colony", audience: "colony", jwtid: "j", expiresIn: 60 };

function problemOf(verify: () => unknown): string | undefined {
	try {
		verify();
		return undefined;
	} catch (err) {
		return err instanceof TokenError ? err.problem : "not a TokenError";
	}
}

describe("access tokens", () => {
	it("verify to the user, session and token id they were signed for, valid for 15 minutes by default", () => {
		const signed = tokens.sign(42, "session-1");

		const claims = tokens.verify(signed.token);

		expect(claims).toMatchObject({ userId: 42, sessionId: "session-1", jti: signed.jti });
		expect(claims.exp - claims.iat).toBe(ACCESS_TOKEN_TTL_SECONDS);
		expect(signed.expiresIn).toBe(15 * 60);
	});

	it("get a fresh id each time", () => {
		expect(tokens.sign(42, "s").jti).not.toBe(tokens.sign(42, "s").jti);
	});

	it("live as long as asked", () => {
		const { token, expiresIn } = tokens.sign(42, "s", 60);
		const claims = tokens.verify(token);

		expect(expiresIn).toBe(60);
		expect(claims.exp - claims.iat).toBe(60);
	});

	it("are reported expired once past their expiry, also after they were verified while valid", async () => {
		const { token } = tokens.sign(42, "s", 1);
		expect(tokens.verify(token).userId).toBe(42);

		await new Promise((resolve) => setTimeout(resolve, 1_100));

		expect(problemOf(() => tokens.verify(token))).toBe("expired");
	});

	it("are reported expired when they arrive expired", () => {
		expect(problemOf(() => tokens.verify(tokens.sign(42, "s", -1).token))).toBe("expired");
	});

	it.each<[string, () => string]>([
		["signed with another secret", () => new AccessTokens("another-secret-that-is-long-enough-0123456789").sign(42, "s").token],
		["unsigned (alg none)", () => jwt.sign({ sub: "42", sid: "s", jti: "j", iss: "colony", aud: "colony" }, "", { algorithm: "none" })],
		["without a subject", () => jwt.sign({ sid: "s" }, SECRET, base)],
		["without a session", () => jwt.sign({}, SECRET, { ...base, subject: "42" })],
		["without an id", () => jwt.sign({ sid: "s" }, SECRET, { issuer: "colony", audience: "colony", subject: "42", expiresIn: 60 })],
		["without an expiry", () => jwt.sign({ sid: "s" }, SECRET, { issuer: "colony", audience: "colony", subject: "42", jwtid: "j" })],
		["for user 0x4, which Number() would read as 4", () => jwt.sign({ sid: "s" }, SECRET, { ...base, subject: "0x4" })],
		["for user 4e0", () => jwt.sign({ sid: "s" }, SECRET, { ...base, subject: "4e0" })],
		["for a user beyond the database's integers", () => jwt.sign({ sid: "s" }, SECRET, { ...base, subject: "99999999999" })],
		["for a list of audiences that includes ours", () => jwt.sign({ sid: "s" }, SECRET, { ...base, subject: "4", audience: ["colony", "other"] })],
		["not a JWT", () => "garbage"],
	])("are refused as invalid when %s", (_case, token) => {
		expect(problemOf(() => tokens.verify(token()))).toBe("invalid");
	});
});

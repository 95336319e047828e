import jwt from "jsonwebtoken";
import { randomUUID } from "node:crypto";
import type { TokenPair } from "../../types/users";
import { startPlatform, type ErrorBody, type Platform, type SignedInUser } from "../support/platform";

/** The key the platform signs with in tests (test/support/env.ts). */
const PLATFORM_SECRET = process.env.JWT_SECRET!;

/** Signs an access token by hand; by default exactly like the platform would for `userId`. */
function accessToken(
	userId: number,
	overrides: Partial<jwt.SignOptions> = {},
	secret: string = PLATFORM_SECRET,
): string {
	const options: jwt.SignOptions = {
		algorithm: "HS256",
		subject: String(userId),
		jwtid: randomUUID(),
		issuer: "colony",
		audience: "colony",
		expiresIn: 60,
		...overrides,
	};
	// jsonwebtoken refuses undefined options: an override of `undefined` leaves the claim out.
	const claims = Object.entries(options).filter(([, value]) => value !== undefined);
	return jwt.sign({ sid: randomUUID() }, secret, Object.fromEntries(claims) as jwt.SignOptions);
}

function base64url(value: object): string {
	return Buffer.from(JSON.stringify(value)).toString("base64url");
}

describe("access tokens at the gateway", () => {
	let platform: Platform;
	let admin: SignedInUser;
	let member: SignedInUser;

	beforeAll(async () => {
		platform = await startPlatform();
		admin = await platform.client.signUp("admin");
		member = await platform.client.signUp("member");
	});
	afterAll(() => platform.broker.stop());

	function me(authorization: string) {
		return platform.client.request<ErrorBody & { username: string }>("GET", "/api/v1/users/me", {
			headers: { authorization },
		});
	}

	it("accepts a token signed like the platform's own, so the forgeries below fail for their flaw alone", async () => {
		const answer = await me(`Bearer ${accessToken(member.id)}`);

		expect(answer.status).toBe(200);
		expect(answer.body.username).toBe("member");
	});

	it("accepts the scheme in any case, as HTTP allows", async () => {
		const answer = await me(`bearer  ${accessToken(member.id)}`);

		expect(answer.status).toBe(200);
	});

	describe("refuses with 401 INVALID_TOKEN and a reason", () => {
		it.each<[string, () => string]>([
			[
				"a token whose signature was altered",
				() => {
					const [header, payload, signature] = member.accessToken.split(".");
					const middle = Math.floor(signature.length / 2);
					const flipped = signature[middle] === "A" ? "B" : "A";
					return [header, payload, signature.slice(0, middle) + flipped + signature.slice(middle + 1)].join(".");
				},
			],
			[
				"a member's token edited to name the admin",
				() => {
					const [header, payload, signature] = member.accessToken.split(".");
					const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
					return [header, base64url({ ...claims, sub: String(admin.id) }), signature].join(".");
				},
			],
			[
				"an unsigned token with alg none",
				() => {
					const now = Math.floor(Date.now() / 1000);
					const claims = { sub: String(admin.id), jti: randomUUID(), iss: "colony", aud: "colony", iat: now, exp: now + 60 };
					return `${base64url({ alg: "none", typ: "JWT" })}.${base64url(claims)}.`;
				},
			],
			["a token signed with another secret", () => accessToken(admin.id, {}, "another-secret-that-is-long-enough-0123456789")],
			["a token signed with HS512 instead of HS256", () => accessToken(member.id, { algorithm: "HS512" })],
			["a token for another audience", () => accessToken(member.id, { audience: "elsewhere" })],
			["a token from another issuer", () => accessToken(member.id, { issuer: "elsewhere" })],
			["a token without an id (jti)", () => accessToken(member.id, { jwtid: undefined })],
			["a token for an account that does not exist", () => accessToken(9_999)],
			["a string that is not a JWT", () => "not.a.jwt"],
		])("%s", async (_case, forge) => {
			const answer = await me(`Bearer ${forge()}`);

			expect(answer.status).toBe(401);
			expect(answer.body).toMatchObject({ code: 401, type: "INVALID_TOKEN", message: expect.stringMatching(/\w/) });
			expect(answer.body).not.toHaveProperty("username");
		});
	});

	it("refuses an expired token with 401 TOKEN_EXPIRED", async () => {
		const expired = accessToken(member.id, { expiresIn: -10 });

		const answer = await me(`Bearer ${expired}`);

		expect(answer.status).toBe(401);
		expect(answer.body).toMatchObject({ code: 401, type: "TOKEN_EXPIRED", message: expect.stringMatching(/expired/) });
	});

	describe("refuses a malformed Authorization header with 401 INVALID_TOKEN", () => {
		it.each<[string, () => string]>([
			["of another scheme", () => "Basic bWVtYmVyOnBhc3N3b3Jk"],
			["with the scheme but no token", () => "Bearer"],
			["with the token but no scheme", () => member.accessToken],
			["with the scheme misspelt", () => `Beare ${member.accessToken}`],
			["with an overlong token", () => `Bearer ${"a".repeat(5_000)}`],
		])("%s", async (_case, header) => {
			const answer = await me(header());

			expect(answer.status).toBe(401);
			expect(answer.body).toMatchObject({ code: 401, type: "INVALID_TOKEN" });
		});
	});

	it("signs in a client that still sends a bad token to the login route", async () => {
		const answer = await platform.client.request<TokenPair>("POST", "/api/v1/auth/login", {
			body: { username: "member", password: "correct horse battery" },
			headers: { authorization: "Bearer not.a.jwt" },
		});

		expect(answer.status).toBe(200);
		expect(answer.body.accessToken).toEqual(expect.any(String));
	});

	it("lets a client refresh while it still sends its expired access token", async () => {
		const session = await platform.client.login("member");

		const answer = await platform.client.request<TokenPair & ErrorBody>("POST", "/api/v1/auth/refresh", {
			body: { refreshToken: session.refreshToken },
			headers: { authorization: `Bearer ${accessToken(member.id, { expiresIn: -10 })}` },
		});

		expect(answer.status).toBe(200);
		expect(answer.body.accessToken).toEqual(expect.any(String));
	});
});

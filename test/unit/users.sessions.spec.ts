import { setTimeout as sleep } from "node:timers/promises";
import type { PublicUser, TokenPair } from "../../types/users";
import { startPlatform, type ErrorBody, type Platform, type SignedInUser } from "../support/platform";

const PASSWORD = "correct horse battery";

type LoginAnswer = TokenPair & { user: PublicUser } & ErrorBody;

describe("signing in (POST /api/v1/auth/login)", () => {
	let platform: Platform;

	beforeAll(async () => {
		platform = await startPlatform();
		await platform.client.register("alice");
	});
	afterAll(() => platform.broker.stop());

	function login(body: unknown) {
		return platform.client.post<LoginAnswer>("/api/v1/auth/login", body);
	}

	it("signs in by username and answers a token pair, its lifetime and the user with their email", async () => {
		const answer = await login({ username: "alice", password: PASSWORD });

		expect(answer.status).toBe(200);
		expect(answer.body).toMatchObject({
			accessToken: expect.any(String),
			refreshToken: expect.any(String),
			expiresIn: 15 * 60,
			user: { username: "alice", email: "alice@example.com", roles: ["admin"] },
		});
		expect(JSON.stringify(answer.body)).not.toContain(PASSWORD);
		const me = await platform.client.get<PublicUser>("/api/v1/users/me", answer.body.accessToken);
		expect(me.status).toBe(200);
		expect(me.body.username).toBe("alice");
	});

	it("signs in with the username in any case", async () => {
		expect((await login({ username: "ALICE", password: PASSWORD })).status).toBe(200);
	});

	it.each([
		["the email field", { email: "alice@example.com" }],
		["the email field in another case", { email: "Alice@Example.COM" }],
		["an email in the username field", { username: "alice@example.com" }],
	])("signs in by email given in %s", async (_case, identifier) => {
		const answer = await login({ ...identifier, password: PASSWORD });

		expect(answer.status).toBe(200);
		expect(answer.body.user.username).toBe("alice");
	});

	it("answers a wrong password and an unknown user alike, with 401 INVALID_CREDENTIALS", async () => {
		const wrongPassword = await login({ username: "alice", password: "not the password" });
		const unknownUser = await login({ username: "nobody", password: PASSWORD });
		const unknownEmail = await login({ email: "nobody@example.com", password: PASSWORD });

		for (const answer of [wrongPassword, unknownUser, unknownEmail]) {
			expect(answer.status).toBe(401);
			expect(answer.body).toMatchObject({ code: 401, type: "INVALID_CREDENTIALS", message: wrongPassword.body.message });
		}
	});

	it("refuses a login without username or email with 422", async () => {
		const answer = await login({ password: PASSWORD });

		expect(answer.status).toBe(422);
		expect(answer.body).toMatchObject({ type: "VALIDATION_ERROR", data: [expect.objectContaining({ field: "username" })] });
	});

	it("refuses a login with a blank username with 422", async () => {
		expect((await login({ username: "   ", password: PASSWORD })).status).toBe(422);
	});

	it("refuses a login without a password with 422", async () => {
		const answer = await login({ username: "alice" });

		expect(answer.status).toBe(422);
		expect(answer.body.data).toEqual([expect.objectContaining({ field: "password" })]);
	});

	it("refuses unknown fields in a login with 422", async () => {
		expect((await login({ username: "alice", password: PASSWORD, remember: true })).status).toBe(422);
	});
});

describe("refreshing a session (POST /api/v1/auth/refresh)", () => {
	let platform: Platform;

	beforeAll(async () => {
		platform = await startPlatform();
		await platform.client.register("bob");
	});
	afterAll(() => platform.broker.stop());

	function refresh(refreshToken: unknown) {
		return platform.client.post<TokenPair & ErrorBody>("/api/v1/auth/refresh", { refreshToken });
	}

	it("rotates the refresh token: a new, working pair replaces the old one", async () => {
		const first = await platform.client.login("bob");

		const answer = await refresh(first.refreshToken);

		expect(answer.status).toBe(200);
		expect(answer.body).toEqual({ accessToken: expect.any(String), refreshToken: expect.any(String), expiresIn: 15 * 60 });
		expect(answer.body.accessToken).not.toBe(first.accessToken);
		expect(answer.body.refreshToken).not.toBe(first.refreshToken);
		expect((await platform.client.get("/api/v1/users/me", answer.body.accessToken)).status).toBe(200);
		expect((await refresh(answer.body.refreshToken)).status).toBe(200);
	});

	it("refuses a refresh token used twice and signs out the whole family", async () => {
		const first = await platform.client.login("bob");
		const second = (await refresh(first.refreshToken)).body;

		const reuse = await refresh(first.refreshToken);
		expect(reuse.status).toBe(401);
		expect(reuse.body).toMatchObject({ code: 401, type: "REFRESH_TOKEN_REUSED" });

		const newer = await refresh(second.refreshToken);
		expect(newer.status).toBe(401);
		expect(newer.body).toMatchObject({ code: 401, type: "REFRESH_TOKEN_REVOKED" });
	});

	it("also refuses, at once, the access tokens the revoked family had been given", async () => {
		const stolen = await platform.client.login("bob");
		const attacker = (await refresh(stolen.refreshToken)).body;
		expect((await platform.client.get("/api/v1/users/me", attacker.accessToken)).status).toBe(200);

		await refresh(stolen.refreshToken);

		for (const accessToken of [stolen.accessToken, attacker.accessToken]) {
			const answer = await platform.client.get("/api/v1/users/me", accessToken);
			expect(answer.status).toBe(401);
			expect(answer.body).toMatchObject({ type: "TOKEN_REVOKED" });
		}
	});

	it("keeps other logins of the same user signed in when one family is revoked for reuse", async () => {
		const phone = await platform.client.login("bob");
		const laptop = await platform.client.login("bob");
		await refresh(phone.refreshToken);
		await refresh(phone.refreshToken);

		expect((await refresh(laptop.refreshToken)).status).toBe(200);
		expect((await platform.client.get("/api/v1/users/me", laptop.accessToken)).status).toBe(200);
	});

	it.each([
		["a random string", "not-a-refresh-token"],
		["an access token", "access"],
	])("refuses %s as refresh token with 401 INVALID_REFRESH_TOKEN", async (_case, token) => {
		const session = await platform.client.login("bob");

		const answer = await refresh(token === "access" ? session.accessToken : token);

		expect(answer.status).toBe(401);
		expect(answer.body).toMatchObject({ code: 401, type: "INVALID_REFRESH_TOKEN" });
	});

	it.each([
		["missing", undefined],
		["empty", ""],
		["not a string", 12345],
		["longer than 512 characters", "r".repeat(513)],
	])("refuses a refresh token that is %s with 422", async (_case, token) => {
		const answer = await refresh(token);

		expect(answer.status).toBe(422);
		expect(answer.body.type).toBe("VALIDATION_ERROR");
	});
});

describe("signing out (POST /api/v1/auth/logout)", () => {
	let platform: Platform;

	beforeAll(async () => {
		platform = await startPlatform();
		await platform.client.register("carol");
		await platform.client.register("dave");
	});
	afterAll(() => platform.broker.stop());

	async function signIn(username: string): Promise<TokenPair> {
		return platform.client.login(username);
	}

	it("answers 204 and refuses the access token at once with 401 TOKEN_REVOKED", async () => {
		const session = await signIn("carol");

		const answer = await platform.client.post("/api/v1/auth/logout", undefined, session.accessToken);

		expect(answer.status).toBe(204);
		expect(answer.body).toBeNull();
		const after = await platform.client.get("/api/v1/users/me", session.accessToken);
		expect(after.status).toBe(401);
		expect(after.body).toMatchObject({ code: 401, type: "TOKEN_REVOKED" });
	});

	it("ends the refresh token passed to logout, and every token rotated from it", async () => {
		const session = await signIn("carol");
		const rotated = (await platform.client.post<TokenPair>("/api/v1/auth/refresh", { refreshToken: session.refreshToken })).body;

		const answer = await platform.client.post(
			"/api/v1/auth/logout",
			{ refreshToken: rotated.refreshToken },
			rotated.accessToken,
		);

		expect(answer.status).toBe(204);
		const after = await platform.client.post("/api/v1/auth/refresh", { refreshToken: rotated.refreshToken });
		expect(after.status).toBe(401);
		expect(after.body).toMatchObject({ type: "REFRESH_TOKEN_REVOKED" });
	});

	it("keeps the user's other sessions signed in", async () => {
		const phone = await signIn("carol");
		const laptop = await signIn("carol");

		await platform.client.post("/api/v1/auth/logout", { refreshToken: phone.refreshToken }, phone.accessToken);

		expect((await platform.client.get("/api/v1/users/me", laptop.accessToken)).status).toBe(200);
		expect((await platform.client.post("/api/v1/auth/refresh", { refreshToken: laptop.refreshToken })).status).toBe(200);
	});

	it("cannot sign out another user by passing their refresh token", async () => {
		const carol = await signIn("carol");
		const dave = await signIn("dave");

		const answer = await platform.client.post("/api/v1/auth/logout", { refreshToken: dave.refreshToken }, carol.accessToken);

		expect(answer.status).toBe(204);
		expect((await platform.client.post("/api/v1/auth/refresh", { refreshToken: dave.refreshToken })).status).toBe(200);
	});

	it("refuses a logout without an access token with 401 NO_TOKEN", async () => {
		const session = await signIn("carol");

		const answer = await platform.client.post("/api/v1/auth/logout", { refreshToken: session.refreshToken });

		expect(answer.status).toBe(401);
		expect(answer.body).toMatchObject({ type: "NO_TOKEN" });
		expect((await platform.client.post("/api/v1/auth/refresh", { refreshToken: session.refreshToken })).status).toBe(200);
	});

	it("refuses unknown fields in a logout with 422 and keeps the session", async () => {
		const session = await signIn("carol");

		const answer = await platform.client.post("/api/v1/auth/logout", { everywhere: true }, session.accessToken);

		expect(answer.status).toBe(422);
		expect((await platform.client.get("/api/v1/users/me", session.accessToken)).status).toBe(200);
	});
});

describe("sessions that outlive their tokens", () => {
	let platform: Platform;
	let session: SignedInUser;

	beforeAll(async () => {
		platform = await startPlatform({ users: { accessTokenTtlSeconds: 1, refreshTokenTtlSeconds: 1 } });
		session = await platform.client.signUp("erin");
		// Both tokens live one second; JWT expiry counts whole seconds, so 1.1 s is past either.
		await sleep(1_100);
	});
	afterAll(() => platform.broker.stop());

	it("refuses an expired access token with 401 TOKEN_EXPIRED", async () => {
		const answer = await platform.client.get("/api/v1/users/me", session.accessToken);

		expect(answer.status).toBe(401);
		expect(answer.body).toMatchObject({ code: 401, type: "TOKEN_EXPIRED", message: expect.stringMatching(/expired/) });
	});

	it("refuses an expired refresh token with 401 REFRESH_TOKEN_EXPIRED", async () => {
		const answer = await platform.client.post("/api/v1/auth/refresh", { refreshToken: session.refreshToken });

		expect(answer.status).toBe(401);
		expect(answer.body).toMatchObject({ code: 401, type: "REFRESH_TOKEN_EXPIRED" });
	});

	it("announces the short lifetime in expiresIn", async () => {
		const answer = await platform.client.post<TokenPair>("/api/v1/auth/login", { username: "erin", password: PASSWORD });

		expect(answer.body.expiresIn).toBe(1);
	});
});

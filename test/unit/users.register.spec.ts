import type { PublicUser } from "../../types/users";
import { startPlatform, type ErrorBody, type Platform } from "../support/platform";

const PASSWORD = "correct horse battery";

/** The fields a validation error names, each once. */
function rejectedFields(body: ErrorBody): string[] {
	return [...new Set((body.data as Array<{ field: string }>).map((error) => error.field))].sort();
}

function registration(username: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
	return { username, email: `${username}@example.com`, password: PASSWORD, ...extra };
}

describe("registering an account (POST /api/v1/auth/register)", () => {
	let platform: Platform;

	beforeAll(async () => {
		platform = await startPlatform();
	});
	afterAll(() => platform.broker.stop());

	function register(body: unknown) {
		return platform.client.post<{ user: PublicUser } & ErrorBody>("/api/v1/auth/register", body);
	}

	it("answers 201 with the new user, showing its email to its owner and never a password hash", async () => {
		const answer = await register({ username: "founder", email: "founder@example.com", password: PASSWORD });

		expect(answer.status).toBe(201);
		expect(Object.keys(answer.body.user).sort()).toEqual(["createdAt", "displayName", "email", "id", "roles", "username"]);
		expect(answer.body.user).toMatchObject({ username: "founder", displayName: "founder", email: "founder@example.com" });
		expect(new Date(answer.body.user.createdAt).getTime()).not.toBeNaN();
		expect(JSON.stringify(answer.body)).not.toContain(PASSWORD);
	});

	it("makes the first account an admin and every later account a member", async () => {
		const first = await platform.client.login("founder");
		const me = await platform.client.get<PublicUser>("/api/v1/users/me", first.accessToken);
		expect(me.body.roles).toEqual(["admin"]);

		const later = await register(registration("latecomer"));
		expect(later.status).toBe(201);
		expect(later.body.user.roles).toEqual(["member"]);
	});

	it("keeps the display name given, trimmed", async () => {
		const answer = await register(registration("named", { displayName: "  Named Person  " }));

		expect(answer.status).toBe(201);
		expect(answer.body.user.displayName).toBe("Named Person");
	});

	it("stores the username trimmed and in lower case, so the user signs in with either spelling", async () => {
		const answer = await register({ username: "  MixedCase_01 ", email: "mixed@example.com", password: PASSWORD });

		expect(answer.status).toBe(201);
		expect(answer.body.user.username).toBe("mixedcase_01");
		await expect(platform.client.login("MIXEDCASE_01")).resolves.toHaveProperty("accessToken");
	});

	it.each([
		["three characters", "a.b"],
		["32 characters", "x".repeat(32)],
		["digits, dots, dashes and underscores", "0_a.b-c"],
	])("accepts a username of %s", async (_case, username) => {
		expect((await register(registration(username))).status).toBe(201);
	});

	it.each([
		["shorter than 3 characters", "ab"],
		["longer than 32 characters", "y".repeat(33)],
		["with a space", "two words"],
		["with punctuation outside . _ -", "bang!"],
		["with an @", "at@sign"],
		["with a non-ASCII letter", "åsa"],
		["that is empty", ""],
	])("refuses a username %s with 422 naming the field", async (_case, username) => {
		const answer = await register({ username, email: "refused@example.com", password: PASSWORD });

		expect(answer.status).toBe(422);
		expect(answer.body).toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
		expect(rejectedFields(answer.body)).toEqual(["username"]);
	});

	it.each([
		["without an @", "someone.example.com"],
		["without a domain", "someone@"],
		["longer than 254 characters", `${"e".repeat(250)}@example.com`],
		["that is not a string", 42],
	])("refuses an email %s with 422", async (_case, email) => {
		const answer = await register({ username: "bademail", email, password: PASSWORD });

		expect(answer.status).toBe(422);
		expect(rejectedFields(answer.body)).toEqual(["email"]);
	});

	it("refuses a password shorter than 10 characters and accepts one of exactly 10", async () => {
		const short = await register({ username: "shortpw", email: "shortpw@example.com", password: "123456789" });
		expect(short.status).toBe(422);
		expect(short.body.data).toEqual([expect.objectContaining({ field: "password", type: "stringMin" })]);

		const exact = await register({ username: "shortpw", email: "shortpw@example.com", password: "kx9!vQ2#mZ" });
		expect(exact.status).toBe(201);
	});

	it.each([
		["repeated characters", "aaaaaaaaaa"],
		["a common password", "password123"],
		["a keyboard walk", "qwertyuiop"],
		["the username with digits", "newcomer2024"],
	])("refuses a password that is easy to guess (%s), saying why without echoing it", async (_case, password) => {
		const answer = await register({ username: "newcomer", email: "newcomer@example.com", password });

		expect(answer.status).toBe(422);
		expect(answer.body.data).toEqual([expect.objectContaining({ field: "password", type: "passwordStrength" })]);
		expect(JSON.stringify(answer.body)).not.toContain(password);
	});

	it.each([
		["password", { password: "p".repeat(257) }],
		["displayName", { displayName: "d".repeat(65) }],
	])("refuses an overlong %s with 422", async (field, extra) => {
		const answer = await register(registration("overlong", extra));

		expect(answer.status).toBe(422);
		expect(answer.body.data).toEqual([expect.objectContaining({ field, type: "stringMax" })]);
	});

	it("refuses a display name of only spaces", async () => {
		const answer = await register(registration("blankname", { displayName: "   " }));

		expect(answer.status).toBe(422);
		expect(rejectedFields(answer.body)).toEqual(["displayName"]);
	});

	it("refuses unknown fields, so nobody can register with roles of their choosing", async () => {
		const answer = await register(registration("sneaky", { roles: ["admin"] }));
		expect(answer.status).toBe(422);
		expect(answer.body.type).toBe("VALIDATION_ERROR");

		const honest = await register(registration("sneaky"));
		expect(honest.status).toBe(201);
		expect(honest.body.user.roles).toEqual(["member"]);
	});

	it("lists every missing field", async () => {
		const answer = await register({});

		expect(answer.status).toBe(422);
		expect(rejectedFields(answer.body)).toEqual(["email", "password", "username"]);
	});

	it("refuses a username that differs from a registered one only in case with 409 USER_EXISTS", async () => {
		const answer = await register({ username: "FOUNDER", email: "another@example.com", password: PASSWORD });

		expect(answer.status).toBe(409);
		expect(answer.body).toMatchObject({ code: 409, type: "USER_EXISTS" });
	});

	it("refuses an email that differs from a registered one only in case with 409 USER_EXISTS", async () => {
		const answer = await register({ username: "copycat", email: " Founder@EXAMPLE.com ", password: PASSWORD });

		expect(answer.status).toBe(409);
		expect(answer.body).toMatchObject({ code: 409, type: "USER_EXISTS" });
	});

	it("leaves the existing account untouched when a duplicate is refused", async () => {
		await register({ username: "founder", email: "founder@example.com", password: "a different password" });

		await expect(platform.client.login("founder")).resolves.toHaveProperty("accessToken");
		await expect(platform.client.login("founder", "a different password")).rejects.toThrow(/INVALID_CREDENTIALS/);
	});
});

import type { PublicUser } from "../../types/users";
import { startPlatform, type ErrorBody, type Platform, type SignedInUser } from "../support/platform";

describe("changing a user's roles (PATCH /api/v1/users/:id/roles)", () => {
	let platform: Platform;
	let admin: SignedInUser;

	beforeAll(async () => {
		platform = await startPlatform();
		admin = await platform.client.signUp("root");
	});
	afterAll(() => platform.broker.stop());

	function setRoles(id: number | string, roles: unknown, token = admin.accessToken) {
		return platform.client.patch<PublicUser & ErrorBody>(`/api/v1/users/${id}/roles`, { roles }, token);
	}

	it("lets an admin change a member's roles and answers the updated user with email", async () => {
		const target = await platform.client.signUp("demoted");

		const answer = await setRoles(target.id, ["guest"]);

		expect(answer.status).toBe(200);
		expect(answer.body).toMatchObject({ id: target.id, username: "demoted", roles: ["guest"], email: "demoted@example.com" });
		const seen = await platform.client.get<PublicUser>(`/api/v1/users/${target.id}`, admin.accessToken);
		expect(seen.body.roles).toEqual(["guest"]);
	});

	it("answers the roles in a fixed order, whatever order they were given in", async () => {
		const target = await platform.client.signUp("ordered");

		const answer = await setRoles(target.id, ["guest", "member"]);

		expect(answer.body.roles).toEqual(["member", "guest"]);
	});

	it("refuses a member with 403 FORBIDDEN naming the missing permission", async () => {
		const member = await platform.client.signUp("climber");

		const answer = await setRoles(member.id, ["admin"], member.accessToken);

		expect(answer.status).toBe(403);
		expect(answer.body).toMatchObject({ code: 403, type: "FORBIDDEN", data: { permission: "users:admin" } });
		const me = await platform.client.get<PublicUser>("/api/v1/users/me", member.accessToken);
		expect(me.body.roles).toEqual(["member"]);
	});

	it("applies a promotion on the user's next request, with the same access token", async () => {
		const member = await platform.client.signUp("promoted");
		const other = await platform.client.signUp("bystander");
		// A first refused call puts the member's session, with its old roles, in the cache.
		expect((await setRoles(other.id, ["guest"], member.accessToken)).status).toBe(403);

		expect((await setRoles(member.id, ["admin"])).status).toBe(200);

		expect((await setRoles(other.id, ["guest"], member.accessToken)).status).toBe(200);
		const seen = await platform.client.get<PublicUser>(`/api/v1/users/${other.id}`, member.accessToken);
		expect(seen.body.email).toBe("bystander@example.com");
	});

	it("applies a demotion on the user's next request, with the same access token", async () => {
		const second = await platform.client.signUp("second");
		await setRoles(second.id, ["admin"]);
		const bystander = await platform.client.signUp("watched");
		expect((await setRoles(bystander.id, ["member"], second.accessToken)).status).toBe(200);

		await setRoles(second.id, ["member"]);

		const answer = await setRoles(bystander.id, ["guest"], second.accessToken);
		expect(answer.status).toBe(403);
		expect(answer.body.type).toBe("FORBIDDEN");
	});

	it("refuses to take the admin role from the last admin with 409 LAST_ADMIN", async () => {
		const solo = await startPlatform();
		try {
			const only = await solo.client.signUp("only");

			const answer = await solo.client.patch<ErrorBody>(`/api/v1/users/${only.id}/roles`, { roles: ["member"] }, only.accessToken);

			expect(answer.status).toBe(409);
			expect(answer.body).toMatchObject({ code: 409, type: "LAST_ADMIN" });
			const me = await solo.client.get<PublicUser>("/api/v1/users/me", only.accessToken);
			expect(me.body.roles).toEqual(["admin"]);
		} finally {
			await solo.broker.stop();
		}
	});

	it("lets one of two admins step down, then keeps the other", async () => {
		const solo = await startPlatform();
		try {
			const first = await solo.client.signUp("first");
			const second = await solo.client.signUp("deputy");
			const patch = (id: number, roles: string[]) =>
				solo.client.patch<ErrorBody>(`/api/v1/users/${id}/roles`, { roles }, first.accessToken);
			await patch(second.id, ["admin", "member"]);

			expect((await patch(second.id, ["member"])).status).toBe(200);
			expect((await patch(first.id, ["member"])).body.type).toBe("LAST_ADMIN");
		} finally {
			await solo.broker.stop();
		}
	});

	it("lets an admin keep the admin role while gaining another", async () => {
		const answer = await setRoles(admin.id, ["admin", "member"]);

		expect(answer.status).toBe(200);
		expect(answer.body.roles).toEqual(["admin", "member"]);
	});

	it.each([
		["an unknown role", "unknownrole", ["superuser"]],
		["no role at all", "norole", []],
		["a role twice", "tworoles", ["member", "member"]],
		["a string instead of a list", "stringrole", "admin"],
	])("refuses %s with 422", async (_case, username, roles) => {
		const target = await platform.client.signUp(username);

		const answer = await setRoles(target.id, roles);

		expect(answer.status).toBe(422);
		expect(answer.body).toMatchObject({ type: "VALIDATION_ERROR", data: [expect.objectContaining({ field: expect.stringMatching(/^roles/) })] });
		const seen = await platform.client.get<PublicUser>(`/api/v1/users/${target.id}`, admin.accessToken);
		expect(seen.body.roles).toEqual(["member"]);
	});

	it("answers 404 USER_NOT_FOUND for an id nobody has", async () => {
		const answer = await setRoles(9999, ["member"]);

		expect(answer.status).toBe(404);
		expect(answer.body.type).toBe("USER_NOT_FOUND");
	});

	it("refuses the id 'abc' with 422", async () => {
		expect((await setRoles("abc", ["member"])).status).toBe(422);
	});

	it("refuses an anonymous caller with 401 NO_TOKEN", async () => {
		const answer = await platform.client.patch<ErrorBody>(`/api/v1/users/${admin.id}/roles`, { roles: ["member"] });

		expect(answer.status).toBe(401);
		expect(answer.body.type).toBe("NO_TOKEN");
	});
});

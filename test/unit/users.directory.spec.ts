import type { PublicUser } from "../../types/users";
import { startPlatform, type ErrorBody, type Platform, type SignedInUser } from "../support/platform";

interface Page {
	items: PublicUser[];
	nextCursor: string | null;
}

describe("the user directory (GET /api/v1/users/me, /users/:id, /users)", () => {
	let platform: Platform;
	let admin: SignedInUser;
	let member: SignedInUser;
	let other: SignedInUser;

	beforeAll(async () => {
		platform = await startPlatform();
		admin = await platform.client.signUp("admin");
		member = await platform.client.signUp("member");
		other = await platform.client.signUp("other");
		for (const name of ["fourth", "fifth"]) await platform.client.register(name);
	});
	afterAll(() => platform.broker.stop());

	describe("me", () => {
		it("shows the signed-in user their own profile with email", async () => {
			const answer = await platform.client.get<PublicUser>("/api/v1/users/me", member.accessToken);

			expect(answer.status).toBe(200);
			expect(answer.body).toEqual({
				id: member.id,
				username: "member",
				displayName: "member",
				email: "member@example.com",
				roles: ["member"],
				createdAt: expect.any(String),
			});
		});

		it("refuses an anonymous caller with 401 NO_TOKEN", async () => {
			const answer = await platform.client.get<ErrorBody>("/api/v1/users/me");

			expect(answer.status).toBe(401);
			expect(answer.body).toMatchObject({ code: 401, type: "NO_TOKEN" });
		});
	});

	describe("get", () => {
		it("shows a member another user's profile without their email", async () => {
			const answer = await platform.client.get<PublicUser>(`/api/v1/users/${other.id}`, member.accessToken);

			expect(answer.status).toBe(200);
			expect(answer.body).toMatchObject({ id: other.id, username: "other", roles: ["member"] });
			expect(answer.body).not.toHaveProperty("email");
		});

		it("shows a member their own email when they look themselves up", async () => {
			const answer = await platform.client.get<PublicUser>(`/api/v1/users/${member.id}`, member.accessToken);

			expect(answer.body.email).toBe("member@example.com");
		});

		it("shows an admin everyone's email", async () => {
			const answer = await platform.client.get<PublicUser>(`/api/v1/users/${other.id}`, admin.accessToken);

			expect(answer.body.email).toBe("other@example.com");
		});

		it("answers 404 USER_NOT_FOUND for an id nobody has", async () => {
			const answer = await platform.client.get<ErrorBody>("/api/v1/users/9999", member.accessToken);

			expect(answer.status).toBe(404);
			expect(answer.body).toMatchObject({ code: 404, type: "USER_NOT_FOUND" });
		});

		it.each(["abc", "0", "-1", "1.5"])("refuses the id %p with 422", async (id) => {
			const answer = await platform.client.get<ErrorBody>(`/api/v1/users/${id}`, member.accessToken);

			expect(answer.status).toBe(422);
			expect(answer.body).toMatchObject({ type: "VALIDATION_ERROR", data: [expect.objectContaining({ field: "id" })] });
		});

		it("refuses an anonymous caller with 401 NO_TOKEN", async () => {
			expect((await platform.client.get(`/api/v1/users/${other.id}`)).status).toBe(401);
		});
	});

	describe("list", () => {
		async function list(query: string, token = member.accessToken) {
			return platform.client.get<Page & ErrorBody>(`/api/v1/users${query}`, token);
		}

		it("lists every user oldest first, with no further page", async () => {
			const answer = await list("");

			expect(answer.status).toBe(200);
			// The assistant's account comes first: it is created when the users service first starts.
			expect(answer.body.items.map((user) => user.username)).toEqual(["ai", "admin", "member", "other", "fourth", "fifth"]);
			expect(answer.body.items[0]).toMatchObject({ assistant: true, displayName: "Colony AI", roles: [] });
			expect(answer.body.items.filter((user) => user.assistant)).toHaveLength(1);
			expect(answer.body.nextCursor).toBeNull();
		});

		it("pages through all users by cursor without gaps or repeats", async () => {
			const seen: string[] = [];
			const pageSizes: number[] = [];
			let cursor: string | null = null;
			do {
				const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : "?limit=2";
				const answer = await list(query);
				expect(answer.status).toBe(200);
				pageSizes.push(answer.body.items.length);
				seen.push(...answer.body.items.map((user) => user.username));
				cursor = answer.body.nextCursor;
			} while (cursor);

			expect(pageSizes).toEqual([2, 2, 2]);
			expect(seen).toEqual(["ai", "admin", "member", "other", "fourth", "fifth"]);
		});

		it("answers no next cursor when the last page is exactly full", async () => {
			const first = await list("?limit=4");
			const second = await list(`?limit=2&cursor=${first.body.nextCursor}`);

			expect(second.body.items.map((user) => user.username)).toEqual(["fourth", "fifth"]);
			expect(second.body.nextCursor).toBeNull();
		});

		it("hides other users' emails from a member and shows the member their own", async () => {
			const answer = await list("");

			const emails = Object.fromEntries(answer.body.items.map((user) => [user.username, user.email]));
			expect(emails).toEqual({
				admin: undefined,
				member: "member@example.com",
				other: undefined,
				fourth: undefined,
				fifth: undefined,
			});
		});

		it("shows an admin every email", async () => {
			const answer = await list("", admin.accessToken);

			expect(answer.body.items.map((user) => user.email)).toEqual([
				// The assistant has no mailbox to show.
				undefined,
				"admin@example.com",
				"member@example.com",
				"other@example.com",
				"fourth@example.com",
				"fifth@example.com",
			]);
		});

		it.each([
			["a limit of 0", "?limit=0"],
			["a limit over 100", "?limit=101"],
			["a limit that is not a number", "?limit=many"],
			["a cursor this API did not issue", "?cursor=not-a-cursor"],
			["a cursor of only non-base64 characters", "?cursor=%21%21%21"],
			["a cursor that encodes no id", `?cursor=${Buffer.from("1e3").toString("base64url")}`],
			["an unknown query parameter", "?sort=username"],
		])("refuses %s with 422", async (_case, query) => {
			const answer = await list(query);

			expect(answer.status).toBe(422);
			expect(answer.body.type).toBe("VALIDATION_ERROR");
		});

		it("refuses an anonymous caller with 401 NO_TOKEN", async () => {
			expect((await platform.client.get<ErrorBody>("/api/v1/users")).body.type).toBe("NO_TOKEN");
		});
	});
});

import type { Context, ServiceBroker, ServiceSchema } from "moleculer";
import { EventEmitter, once } from "node:events";
import type { PublicUser, SessionUser, TokenPair, UserCreatedEvent, UserRolesChangedEvent } from "../../types/users";
import { testBroker, usersService } from "../support/platform";

const PASSWORD = "correct horse battery";

/** Re-emits the domain events other services would receive, so a test can await one with `once`. */
const domainEvents = new EventEmitter();

const listener: ServiceSchema = {
	name: "listener",
	events: {
		"users.**"(ctx: Context) {
			if (ctx.eventName) domainEvents.emit(ctx.eventName, ctx.params);
		},
	},
};

async function nextEvent<T>(pending: Promise<unknown[]>): Promise<T> {
	const [payload] = await pending;
	return payload as T;
}

describe("the users service, called by other services", () => {
	let broker: ServiceBroker;
	let admin: SessionUser;

	async function signUp(username: string): Promise<{ user: PublicUser; tokens: TokenPair }> {
		const { user } = await broker.call<{ user: PublicUser }, object>("users.register", {
			username,
			email: `${username}@example.com`,
			password: PASSWORD,
		});
		const tokens = await broker.call<TokenPair, object>("users.login", { username, password: PASSWORD });
		return { user, tokens };
	}

	function resolveToken(token: string): Promise<SessionUser> {
		return broker.call<SessionUser, { token: string }>("users.resolveToken", { token });
	}

	beforeAll(async () => {
		broker = testBroker();
		broker.createService(usersService());
		broker.createService(listener);
		await broker.start();
		const founder = await signUp("founder");
		admin = await resolveToken(founder.tokens.accessToken);
	});
	afterAll(() => broker.stop());

	it("announces a new account with users.user.created, without secrets", async () => {
		const announced = once(domainEvents, "users.user.created");

		const { user } = await signUp("announced");

		const event = await nextEvent<UserCreatedEvent>(announced);
		expect(event.user).toEqual(user);
		expect(JSON.stringify(event)).not.toMatch(/passwordHash|emailCiphertext|emailIndex/);
	});

	it("resolves an access token to the caller with the permissions of their roles", async () => {
		const { user, tokens } = await signUp("resolved");

		const session = await resolveToken(tokens.accessToken);

		expect(session).toMatchObject({ id: user.id, username: "resolved", roles: ["member"] });
		expect(session.permissions).toEqual(expect.arrayContaining(["users:read", "chat:write", "tasks:write"]));
		expect(session.permissions).not.toContain("users:admin");
		expect(session.tokenExpiresAt).toBeGreaterThan(Date.now() / 1000);
	});

	it("gives the first account, an admin, every permission", async () => {
		expect(admin.roles).toEqual(["admin"]);
		expect(admin.permissions).toEqual(expect.arrayContaining(["users:admin", "ai:admin", "chat:admin"]));
	});

	it("refuses a token that is not a JWT with 401 INVALID_TOKEN", async () => {
		await expect(resolveToken("not-a-jwt")).rejects.toMatchObject({ code: 401, type: "INVALID_TOKEN" });
	});

	it("refuses an empty token with a validation error", async () => {
		await expect(resolveToken("")).rejects.toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
	});

	it("announces a logout to every node with users.session.revoked, naming the session", async () => {
		const { user, tokens } = await signUp("leaving");
		const meta = { user: await resolveToken(tokens.accessToken) };
		const ended = once(domainEvents, "users.session.revoked");

		await broker.call("users.logout", {}, { meta });

		expect(await nextEvent(ended)).toMatchObject({ revocation: { userId: user.id, sessionId: meta.user.sessionId, reason: "Signed out" } });
		await expect(resolveToken(tokens.accessToken)).rejects.toMatchObject({ code: 401, type: "TOKEN_REVOKED" });
	});

	it("announces a role change with users.user.rolesChanged, saying who changed what", async () => {
		const { user } = await signUp("changed");
		const changed = once(domainEvents, "users.user.rolesChanged");

		await broker.call("users.setRoles", { id: user.id, roles: ["guest"] }, { meta: { user: admin } });

		expect(await nextEvent<UserRolesChangedEvent>(changed)).toMatchObject({
			user: { id: user.id, roles: ["guest"] },
			previousRoles: ["member"],
			changedBy: admin.id,
		});
	});

	it.each([
		["users.me", {}],
		["users.logout", {}],
		["users.setRoles", { id: 1, roles: ["member"] }],
		["users.get", { id: 1 }],
		["users.list", {}],
	])("refuses %s without a signed-in caller with 401 UNAUTHORIZED: services call it on a user's behalf", async (action, params) => {
		await expect(broker.call(action, params)).rejects.toMatchObject({ code: 401, type: "UNAUTHORIZED" });
	});

	it("shows another member's email to nobody but user admins when get and list are called on a member's behalf", async () => {
		const { user } = await signUp("private");
		const viewer = await resolveToken((await signUp("viewer")).tokens.accessToken);

		const single = await broker.call<PublicUser, { id: number }>("users.get", { id: user.id }, { meta: { user: viewer } });
		const page = await broker.call<{ items: PublicUser[] }, object>("users.list", {}, { meta: { user: viewer } });
		const asAdmin = await broker.call<PublicUser, { id: number }>("users.get", { id: user.id }, { meta: { user: admin } });

		expect(single).not.toHaveProperty("email");
		expect(page.items.filter((item) => item.email !== undefined).map((item) => item.id)).toEqual([viewer.id]);
		expect(asAdmin.email).toBe("private@example.com");
	});

	describe("after an account was removed from the database", () => {
		// No action removes accounts yet; an operator deleting the row is the way an account disappears today.
		async function removeAccount(id: number): Promise<void> {
			const service = broker.getLocalService("users") as unknown as {
				tables: { users: { destroy(options: { where: { id: number } }): Promise<number> } };
			};
			await service.tables.users.destroy({ where: { id } });
		}

		let tokens: TokenPair;

		beforeAll(async () => {
			const signedUp = await signUp("removed");
			tokens = signedUp.tokens;
			await removeAccount(signedUp.user.id);
		});

		it("refuses its access token with 401 INVALID_TOKEN", async () => {
			await expect(resolveToken(tokens.accessToken)).rejects.toMatchObject({ code: 401, type: "INVALID_TOKEN" });
		});

		it("refuses its refresh token with 401 INVALID_REFRESH_TOKEN", async () => {
			await expect(broker.call("users.refresh", { refreshToken: tokens.refreshToken })).rejects.toMatchObject({
				code: 401,
				type: "INVALID_REFRESH_TOKEN",
			});
		});

		it("refuses its login with 401 INVALID_CREDENTIALS", async () => {
			await expect(broker.call("users.login", { username: "removed", password: PASSWORD })).rejects.toMatchObject({
				code: 401,
				type: "INVALID_CREDENTIALS",
			});
		});
	});
});

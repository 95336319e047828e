import type { ActionSchema, ServiceBroker, ServiceSchema } from "moleculer";
import { decideAccess } from "../../lib/auth/access";
import { permissionsOf } from "../../lib/auth/permissions";
import { chatService, startPlatform, testBroker, type Platform, type SignedInUser } from "../support/platform";

/** Every action of a running broker, with the contract it declares, as the registry holds it. */
function actionsOf(broker: ServiceBroker): Omit<ActionSchema, "handler">[] {
	return broker.registry.getActionList({ withEndpoints: false }).flatMap((item) => (item.action ? [item.action] : []));
}

describe("who may call what", () => {
	describe("the rule itself (lib/auth/access)", () => {
		it("lets anyone call a public action", () => {
			expect(decideAccess("public", undefined)).toBe("allowed");
		});

		it("asks anonymous callers to sign in for anything else", () => {
			expect(decideAccess("user", undefined)).toBe("sign-in-first");
			expect(decideAccess("chat:read", undefined)).toBe("sign-in-first");
		});

		it("applies the role's permissions", () => {
			expect(decideAccess("chat:write", permissionsOf(["guest"]))).toBe("allowed");
			expect(decideAccess("chat:channel:create", permissionsOf(["guest"]))).toBe("forbidden");
			expect(decideAccess("chat:channel:create", permissionsOf(["member"]))).toBe("allowed");
			expect(decideAccess("users:admin", permissionsOf(["member"]))).toBe("forbidden");
			expect(decideAccess("users:admin", permissionsOf(["admin"]))).toBe("allowed");
		});
	});

	describe("on the running platform", () => {
		let platform: Platform;
		let member: SignedInUser;

		beforeAll(async () => {
			platform = await startPlatform({ chat: {} });
			await platform.client.signUp("root");
			member = await platform.client.signUp("member");
		});
		afterAll(() => platform.broker.stop());

		it("publishes a REST route only for actions that declare who may call them", async () => {
			const api = platform.broker.getLocalService("api") as unknown as { aliases: { action?: string; route: { path: string } }[] };
			const routed = api.aliases.filter((alias) => alias.route.path === "/api/v1" && alias.action).map((alias) => alias.action!);
			const byName = new Map(actionsOf(platform.broker).map((action) => [action.name, action]));

			expect(routed.length).toBeGreaterThan(20);
			expect(routed.filter((name) => !byName.get(name)?.access)).toEqual([]);
		});

		it("states for every action of Colony's services whether a second run is harmless", () => {
			const ours = actionsOf(platform.broker).filter((action) => /^(users|chat|api)\./.test(action.name ?? ""));
			// api.rest is moleculer-web's own entry point of every HTTP request, not an action of Colony's.
			const silent = ours.filter((action) => action.name !== "api.rest" && action.idempotent === undefined);

			expect(silent.map((action) => action.name)).toEqual([]);
		});

		it("refuses a client's call of an internal action even when the caller is an admin", async () => {
			const admin = await platform.client.login("root");
			const meta = { user: await platform.broker.call("users.resolveToken", { token: admin.accessToken }), $client: { via: "rest", action: "users.resolveUsernames" } };

			await expect(platform.broker.call("users.resolveUsernames", { usernames: ["root"] }, { meta })).rejects.toMatchObject({ code: 404 });
		});

		it("refuses an anonymous REST call with 401 and a member's call of an admin action with 403", async () => {
			const anonymous = await platform.client.get("/api/v1/channels");
			const forbidden = await platform.client.patch(`/api/v1/users/${member.id}/roles`, { roles: ["admin"] }, member.accessToken);

			expect(anonymous.status).toBe(401);
			expect(anonymous.body).toMatchObject({ type: "NO_TOKEN" });
			expect(forbidden.status).toBe(403);
			expect(forbidden.body).toMatchObject({ type: "FORBIDDEN", data: { permission: "users:admin" } });
		});

		it("lets services call each other's internal actions on a user's behalf", async () => {
			const ids = await platform.broker.call<Record<string, number>, object>("users.resolveUsernames", { usernames: ["member"] });

			expect(ids).toEqual({ member: member.id });
		});
	});

	it("refuses to start a service whose REST route has no access rule", async () => {
		const broker = testBroker();
		const leaky: ServiceSchema = {
			...(chatService() as ServiceSchema),
			name: "leaky",
			actions: { open: { rest: "GET /open", idempotent: true, handler: () => "secret" } },
		};

		expect(() => broker.createService(leaky)).toThrow(/leaky.open has a REST route but no access rule/);
		await broker.stop();
	});
});

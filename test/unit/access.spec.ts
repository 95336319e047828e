import { ACTION_ACCESS, mayCall } from "../../lib/access";
import { permissionsOf } from "../../lib/permissions";
import { SOCKET_ACTIONS } from "../../mixins/socket-gateway.mixin";
import { ROUTES } from "../../services/api.service";

describe("who may call what (lib/access)", () => {
	it("has a rule for every REST route and every socket action, so none is refused by omission", () => {
		const reachable = new Set([...Object.values(ROUTES), ...SOCKET_ACTIONS]);
		expect([...reachable].filter((action) => !(action in ACTION_ACCESS))).toEqual([]);
	});

	it("lets anonymous callers reach only the public actions", () => {
		expect(mayCall("users.login", undefined)).toBe(true);
		expect(mayCall("users.me", undefined)).toBe(false);
		expect(mayCall("chat.history", undefined)).toBe(false);
	});

	it("applies the role's permissions, and refuses actions no rule opens", () => {
		expect(mayCall("chat.send", permissionsOf(["guest"]))).toBe(true);
		expect(mayCall("chat.createChannel", permissionsOf(["guest"]))).toBe(false);
		expect(mayCall("chat.createChannel", permissionsOf(["member"]))).toBe(true);
		expect(mayCall("users.setRoles", permissionsOf(["member"]))).toBe(false);
		expect(mayCall("users.setRoles", permissionsOf(["admin"]))).toBe(true);
		expect(mayCall("users.resolveToken", permissionsOf(["admin"]))).toBe(false);
	});
});

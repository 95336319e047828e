import { isRole, PERMISSIONS, permissionsOf } from "../../lib/auth/permissions";

describe("roles and their permissions", () => {
	it("gives an admin every permission", () => {
		expect(permissionsOf(["admin"])).toEqual([...PERMISSIONS]);
	});

	it("gives a member everyday work but no administration", () => {
		const member = permissionsOf(["member"]);

		expect(member).toEqual(expect.arrayContaining(["chat:write", "chat:channel:create", "tasks:write", "projects:create", "ai:use"]));
		expect(member.filter((permission) => permission.endsWith(":admin"))).toEqual([]);
	});

	it("lets a guest take part but not create channels, projects or knowledge", () => {
		const guest = permissionsOf(["guest"]);

		expect(guest).toEqual(expect.arrayContaining(["users:read", "chat:read", "chat:write", "tasks:read", "ai:use"]));
		for (const permission of ["chat:channel:create", "projects:create", "knowledge:write", "tasks:write"]) {
			expect(guest).not.toContain(permission);
		}
	});

	it("grants the union of several roles, each permission once", () => {
		const both = permissionsOf(["member", "guest"]);

		expect(both).toEqual(permissionsOf(["member"]));
		expect(new Set(both).size).toBe(both.length);
	});

	it("grants nothing without a role", () => {
		expect(permissionsOf([])).toEqual([]);
	});

	it("knows the three roles and nothing else", () => {
		expect(["admin", "member", "guest"].every(isRole)).toBe(true);
		expect(isRole("superuser")).toBe(false);
		expect(isRole("Admin")).toBe(false);
	});
});

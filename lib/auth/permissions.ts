export const ROLES = ["admin", "member", "guest"] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
	"users:read",
	"users:admin",
	"chat:read",
	"chat:write",
	"chat:channel:create",
	"chat:admin",
	"tasks:read",
	"tasks:write",
	"projects:create",
	"ai:use",
	"ai:admin",
	"knowledge:read",
	"knowledge:write",
	"notifications:read",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const MEMBER: Permission[] = [
	"users:read",
	"chat:read",
	"chat:write",
	"chat:channel:create",
	"tasks:read",
	"tasks:write",
	"projects:create",
	"ai:use",
	"knowledge:read",
	"knowledge:write",
	"notifications:read",
];

// Guests take part where they are invited; they cannot create channels or projects, or add knowledge.
const GUEST: Permission[] = ["users:read", "chat:read", "chat:write", "tasks:read", "ai:use", "knowledge:read", "notifications:read"];

const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
	admin: PERMISSIONS,
	member: MEMBER,
	guest: GUEST,
};

export function permissionsOf(roles: readonly Role[]): Permission[] {
	const granted = new Set<Permission>();
	for (const role of roles) for (const permission of ROLE_PERMISSIONS[role] ?? []) granted.add(permission);
	return PERMISSIONS.filter((permission) => granted.has(permission));
}

export function isRole(value: string): value is Role {
	return (ROLES as readonly string[]).includes(value);
}

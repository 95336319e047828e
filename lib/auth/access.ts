import type { Permission } from "./permissions";

/** Who may call an action from outside: anyone, any signed-in user, or the holders of one permission. */
export type Access = "public" | "user" | Permission;

export type AccessDecision = "allowed" | "sign-in-first" | "forbidden";

/** Whether a caller with these permissions (undefined when anonymous) may call an action open to `access`. */
export function decideAccess(access: Access, permissions: readonly Permission[] | undefined): AccessDecision {
	if (access === "public") return "allowed";
	if (permissions === undefined) return "sign-in-first";
	return access === "user" || permissions.includes(access) ? "allowed" : "forbidden";
}

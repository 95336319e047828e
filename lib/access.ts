import type { Permission } from "./permissions";

/** Anyone, any signed-in user, or the holders of one permission. */
export type Access = "public" | "user" | Permission;

/**
 * Who may call each action clients can reach, over REST or a socket: the one RBAC table the gateway checks
 * before an action runs. An action missing here is not reachable from outside.
 */
export const ACTION_ACCESS: Readonly<Record<string, Access>> = {
	"users.register": "public",
	"users.login": "public",
	"users.refresh": "public",
	"users.logout": "user",
	"users.me": "user",
	"users.list": "users:read",
	"users.get": "users:read",
	"users.setRoles": "users:admin",
	"chat.listChannels": "chat:read",
	"chat.getChannel": "chat:read",
	"chat.createChannel": "chat:channel:create",
	"chat.unread": "chat:read",
	"chat.join": "chat:read",
	"chat.addMember": "chat:write",
	"chat.history": "chat:read",
	"chat.send": "chat:write",
	"chat.markRead": "chat:read",
	"chat.openDirect": "chat:write",
	"chat.edit": "chat:write",
	"chat.delete": "chat:write",
	"chat.react": "chat:write",
	"chat.typing": "chat:write",
	"api.presence": "user",
	"api.setPresence": "user",
};

/** Whether a caller with these permissions (none when anonymous) may call the action. */
export function mayCall(action: string, permissions: readonly Permission[] | undefined): boolean {
	const access = ACTION_ACCESS[action];
	if (access === undefined) return false;
	if (access === "public") return true;
	if (permissions === undefined) return false;
	return access === "user" || permissions.includes(access);
}

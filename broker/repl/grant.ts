import type { ServiceBroker } from "moleculer";
import { isRole, ROLES } from "../../lib/auth/permissions";
import type { RoleChange } from "../../types/users";
import type { CommandArgs, ColonyCommand } from "./command";
import { textTable } from "./text-table";

/** Adds a role to a user through `users.grantRole`, which keeps every rule of a role change and logs it. */
export const grantCommand: ColonyCommand = {
	command: "grant <user> <role>",
	description: `Gives a user (by username) a role: ${ROLES.join(", ")}`,
	async run(broker: ServiceBroker, args: CommandArgs): Promise<string> {
		const { user: username, role } = args;
		if (!username || !role) throw new Error("give a username and a role: grant <user> <role>");
		if (!isRole(role)) throw new Error(`'${role}' is not a role: the roles are ${ROLES.join(", ")}`);
		const { user, previousRoles } = await broker.call<RoleChange, { username: string; role: string }>("users.grantRole", { username, role });
		const summary = previousRoles.includes(role) ? `${user.username} already had the role '${role}'.` : `Granted the role '${role}' to ${user.username}.`;
		const table = textTable(["id", "username", "roles before", "roles now"], [[String(user.id), user.username, previousRoles.join(", "), user.roles.join(", ")]]);
		return `${summary}\n${table}`;
	},
};

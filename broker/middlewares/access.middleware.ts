import type { ActionSchema, Context, Middleware } from "moleculer";
import { decideAccess } from "../../lib/auth/access";
import type { RequestMeta } from "../../types/users";
import { ForbiddenError, NotFoundError, UnauthorizedError } from "../errors";

type ActionHandler = (ctx: Context<unknown, RequestMeta>) => Promise<unknown>;

/**
 * Enforces each action's `access` rule on the node that runs it, for every call a client made through a gateway
 * (REST or socket; the gateway marks it in `ctx.meta.$client` and puts the signed-in caller in `ctx.meta.user`).
 * A client reaches no action without a rule, and over a socket only actions marked `socket`. Calls between
 * services pass, but an action open to signed-in users always has a caller, so its handler can rely on one.
 */
export const AccessMiddleware: Middleware = {
	name: "Access",

	serviceCreating(_service: unknown, schema: { name: string; actions?: Record<string, ActionSchema | boolean | unknown> }) {
		for (const [name, action] of Object.entries(schema.actions ?? {})) {
			if (typeof action === "object" && action !== null && "rest" in action && (action as ActionSchema).rest && !(action as ActionSchema).access) {
				throw new Error(`${schema.name}.${name} has a REST route but no access rule: say who may call it`);
			}
		}
	},

	localAction(handler: ActionHandler, action: ActionSchema) {
		const { access, socket } = action;
		return function enforceAccess(ctx: Context<unknown, RequestMeta>) {
			const client = ctx.meta.$client;
			const user = ctx.meta.user ?? undefined;
			if (!client || client.action !== action.name) {
				if (access && access !== "public" && !user) {
					return Promise.reject(new UnauthorizedError(`${action.name} acts for a signed-in user: pass one in meta.user`));
				}
				return handler(ctx);
			}
			if (!access || (client.via === "socket" && !socket)) {
				return Promise.reject(new NotFoundError("No such action is open to clients", "NOT_FOUND"));
			}
			switch (decideAccess(access, user?.permissions)) {
				case "allowed":
					return handler(ctx);
				case "sign-in-first":
					return Promise.reject(new UnauthorizedError("Sign in first: send 'Authorization: Bearer <access token>'", "NO_TOKEN"));
				case "forbidden":
					return Promise.reject(new ForbiddenError(`You need the '${access}' permission`, "FORBIDDEN", { permission: access }));
			}
		};
	},
};

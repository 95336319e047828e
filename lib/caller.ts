import type { Context } from "moleculer";
import type { RequestMeta, SessionUser } from "../types/users";
import { UnauthorizedError } from "./errors";

/** The signed-in caller of an action reached through the gateway; refuses anonymous calls. */
export function requireCaller(ctx: Context<unknown, RequestMeta>): SessionUser {
	if (!ctx.meta.user) throw new UnauthorizedError("Sign in first", "UNAUTHORIZED");
	return ctx.meta.user;
}

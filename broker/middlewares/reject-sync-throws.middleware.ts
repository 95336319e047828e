import { Errors, type ActionSchema, type Context, type Middleware } from "moleculer";

type ActionHandler = (ctx: Context) => Promise<unknown>;

/**
 * Moleculer's bulkhead frees its slot when the call's promise settles; a validator or handler that throws
 * synchronously never returns one, and the slot is lost for good (a hundred such calls and the action hangs for
 * everyone). Placed between the validator and the bulkhead, this turns every synchronous throw into a rejected
 * promise, and a stack overflow while validating (parameters nested very deep) into the 422 it is.
 */
export const RejectSyncThrowsMiddleware: Middleware = {
	name: "RejectSyncThrows",

	localAction(handler: ActionHandler, action: ActionSchema) {
		return function rejectSyncThrows(ctx: Context) {
			try {
				return handler(ctx);
			} catch (err) {
				if (err instanceof RangeError) {
					return Promise.reject(
						new Errors.ValidationError(`Parameters of ${action.name} are nested too deeply`, "VALIDATION_ERROR", [
							{ type: "nesting", message: "The parameters are nested too deeply." },
						]),
					);
				}
				return Promise.reject(err);
			}
		};
	},
};

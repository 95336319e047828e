import type { ActionSchema, Context, Errors, Middleware, ServiceBroker } from "moleculer";
import { hostBoard } from "../../lib/ai/host-board";

type ActionHandler = (ctx: Context) => Promise<unknown>;

/**
 * Counts, per `ai` node, the requests this broker sent and has not got back, for the model-aware strategy:
 * hosts report their load on a heartbeat, which is up to two seconds old when a burst arrives. Also notes the
 * hosts a request failed on, so the strategies send its retries to the others.
 */
export function AiInFlightMiddleware(broker: ServiceBroker): Middleware {
	const board = hostBoard(broker);
	const track = (handler: ActionHandler, action: ActionSchema & { service?: { name?: string } }): ActionHandler => {
		if (action.service?.name !== "ai") return handler;
		return function countInFlight(ctx: Context) {
			const nodeID = ctx.nodeID ?? broker.nodeID;
			board.sent(nodeID);
			return handler(ctx)
				.catch((err: Errors.MoleculerError) => {
					if (err.retryable && ctx.requestID) board.failedOn(ctx.requestID, nodeID);
					throw err;
				})
				.finally(() => board.answered(nodeID));
		};
	};
	return { name: "AiInFlight", localAction: track, remoteAction: track };
}

import type { ActionSchema, Context, Endpoint, Errors, Middleware, Service, ServiceBroker } from "moleculer";
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
			const sentAt = board.sent(nodeID);
			return handler(ctx)
				.catch((err: Errors.MoleculerError) => {
					if (err.retryable && ctx.requestID) board.failedOn(ctx.requestID, nodeID);
					throw err;
				})
				.finally(() => board.answered(nodeID, sentAt));
		};
	};
	return {
		name: "AiInFlight",
		localAction: track,
		remoteAction: track,
		async serviceStarted(service: Service) {
			if (service.name === "ai") balanceLocalCallsToo(broker);
		},
	};
}

/** The part of Moleculer's EndpointList (registry internals, untyped) that picks a node for a call. */
interface EndpointPicker {
	endpoints: Endpoint[];
	select(list: Endpoint[], ctx?: Context): Endpoint | null;
	next(ctx?: Context): Endpoint | null;
}

/**
 * Moleculer sends a node's calls to its own service first (preferLocal) before any strategy looks: a node that
 * runs `ai` beside other services would keep all its inference on its own GPU host while the others idle. For the
 * ai actions the strategy always chooses among all of them; every other call stays local. (Only `next`, which
 * picks for a call, changes: `nextLocal` still serves requests other nodes sent to this one.)
 */
function balanceLocalCallsToo(broker: ServiceBroker): void {
	const actions = (broker.registry as unknown as { actions: { actions: Map<string, EndpointPicker> } }).actions.actions;
	for (const [name, list] of actions) {
		if (!name.startsWith("ai.")) continue;
		list.next = function pickAmongAll(this: EndpointPicker, ctx?: Context) {
			const available = this.endpoints.filter((endpoint) => endpoint.isAvailable);
			return available.length > 0 ? this.select(available, ctx) : null;
		};
	}
}

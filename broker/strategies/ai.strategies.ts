import { Strategies, type Context, type Endpoint, type Registry, type ServiceBroker } from "moleculer";
import { hostBoard, type AiHostBoard } from "../../lib/ai/host-board";

interface ModelParams {
	model?: unknown;
}

/**
 * Endpoints whose host is healthy and heard from lately, leaving out those this request already failed on (its
 * host may fail for a moment before its next report says so); all of them when none is left (the node says why).
 */
function usableEndpoints(board: AiHostBoard, list: Endpoint[], ctx?: Context): Endpoint[] {
	const failed = board.failedFor(ctx?.requestID);
	const fresh = list.filter((endpoint) => !failed.has(endpoint.id));
	const candidates = fresh.length > 0 ? fresh : list;
	const usable = candidates.filter((endpoint) => board.usable(endpoint.id));
	return usable.length > 0 ? usable : candidates;
}

/** Round robin that knows the AI hosts: what their heartbeats said, and what this broker has in flight. */
abstract class AiStrategy extends Strategies.RoundRobin {
	protected readonly board: AiHostBoard;

	constructor(registry: Registry, broker: ServiceBroker, opts?: object) {
		super(registry, broker, opts);
		this.board = hostBoard(broker);
	}
}

/**
 * Round robin over the `ai` nodes whose GPU host answers: a host whose Ollama stopped answering drops out at its
 * node's next heartbeat (every 2 s), a node not heard from for 5 s too, and both come back when they answer.
 */
export class AiRoundRobinStrategy extends AiStrategy {
	override select(list: Endpoint[], ctx?: Context): Endpoint {
		return super.select(usableEndpoints(this.board, list, ctx));
	}
}

/**
 * Sends a request where its model is already loaded and a slot is free; otherwise to the healthy host with the
 * most free slots (then the least load). Loaded models and load come from the hosts' heartbeats, corrected by
 * what this broker itself has in flight to each.
 */
export class AiModelAwareStrategy extends AiStrategy {
	override select(list: Endpoint[], ctx?: Context): Endpoint {
		const usable = usableEndpoints(this.board, list, ctx);
		const asked = (ctx?.params as ModelParams | undefined)?.model;
		const modelOf = (endpoint: Endpoint) => (typeof asked === "string" ? asked : this.board.defaultModel(endpoint.id));
		const ready = usable.filter((endpoint) => {
			const model = modelOf(endpoint);
			return model !== undefined && this.board.hasLoaded(endpoint.id, model) && this.board.freeSlots(endpoint.id) > 0;
		});
		const candidates = ready.length > 0 ? ready : usable;
		// Among equals, round robin keeps the spread even.
		const best = Math.max(...candidates.map((endpoint) => this.board.freeSlots(endpoint.id)));
		const tied = candidates.filter((endpoint) => this.board.freeSlots(endpoint.id) === best);
		return super.select(tied);
	}
}

// Registered by name: an action's `strategy` travels to other nodes as a string, resolved on the calling node.
// (Moleculer's typings ask for an instance; it stores and later instantiates the class.)
type StrategyValue = Parameters<typeof Strategies.register>[1];
Strategies.register("AiRoundRobin", AiRoundRobinStrategy as unknown as StrategyValue);
Strategies.register("AiModelAware", AiModelAwareStrategy as unknown as StrategyValue);

export type AiStrategyName = "AiRoundRobin" | "AiModelAware";

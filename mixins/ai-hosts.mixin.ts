import type { Context, ServiceSchema } from "moleculer";
import { hostBoard } from "../lib/ai/host-board";
import type { AiHostStatus } from "../types/ai";

/**
 * Keeps this broker's board of AI hosts current from the heartbeats every `ai` node broadcasts, for the AI
 * strategies and for whoever shows the hosts. Mixed into every service that calls `ai.*`; one per broker is enough.
 */
export const AiHostsMixin: Partial<ServiceSchema> = {
	events: {
		"ai.host.status"(ctx: Context<AiHostStatus>) {
			hostBoard(this.broker).update(ctx.params);
		},
		"$node.disconnected"(ctx: Context<{ node: { id: string } }>) {
			hostBoard(this.broker).forget(ctx.params.node.id);
		},
	},
};

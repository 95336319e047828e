import type { Access } from "../lib/auth/access";

/** The contract each Colony action states next to its `params` (README: "Add an endpoint"). */
declare module "moleculer" {
	interface ActionSchema {
		/**
		 * Who may call the action from outside, over REST or a socket: anyone, any signed-in user, or the holders
		 * of one permission. Without it the action is internal: no client reaches it.
		 */
		access?: Access;
		/** Clients may also call it over their socket (`call(action, params, ack)`). */
		socket?: boolean;
		/**
		 * Whether running it twice has the effect of running it once: `true`, `false`, or the name of the
		 * parameter that makes it so when present (an idempotency key such as `clientMsgId`). Only idempotent
		 * calls are retried after a failure that may have happened after the action ran.
		 */
		idempotent?: boolean | string;
		/** How long a call may take unless its caller says otherwise (Moleculer's Timeout middleware reads it). */
		timeout?: number;
	}
}

/** `@moleculer/channels`: durable queues (DESIGN §3) declared by services and sent to through the broker. */
declare module "moleculer" {
	interface ChannelSchema<TThis> {
		group?: string;
		maxInFlight?: number;
		maxRetries?: number;
		deadLettering?: { enabled: boolean; queueName: string };
		nats?: { consumerOptions?: { config?: Record<string, unknown> }; streamConfig?: Record<string, unknown> };
		handler(this: TThis, payload: never, raw?: unknown): Promise<void>;
	}

	interface ServiceSchema<TSettings, TMethods, TVars, TThis> {
		channels?: Record<string, ChannelSchema<TThis>>;
	}

	interface ServiceBroker {
		sendToChannel(channelName: string, payload: unknown, opts?: Record<string, unknown>): Promise<void>;
	}
}

import type { ServiceBroker, ServiceSchema } from "moleculer";
import type { AssistantAccount } from "../types/users";

export interface AssistantAwareMethods {
	/** Whether `userId` is the AI assistant's account (`users.assistant`), asked once and remembered. */
	isAssistant(userId: number): Promise<boolean>;
}

export interface AssistantAwareState {
	assistantId?: number;
}

/** For services that treat the assistant's own messages apart (not indexed, not notified). */
export const AssistantAwareMixin: Partial<ServiceSchema> = {
	methods: {
		async isAssistant(this: AssistantAwareState & { broker: ServiceBroker }, userId: number): Promise<boolean> {
			if (this.assistantId === undefined) {
				// Without the users service nobody is known to be the assistant; the next call asks again.
				const assistant = await this.broker.call<AssistantAccount>("users.assistant").catch(() => null);
				if (!assistant) return false;
				this.assistantId = assistant.id;
			}
			return userId === this.assistantId;
		},
	},
};

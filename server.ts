import { ServiceBroker, type ServiceSchema } from "moleculer";
import { afterNodeStarted } from "./broker/node-startup";
import { listFromEnv, loadSecrets } from "./lib/config";
import { createBrokerOptions } from "./moleculer.config";
import AiService from "./services/ai/ai.service";
import ApiService from "./services/api/api.service";
import ChatService from "./services/chat/chat.service";
import KnowledgeService from "./services/knowledge/knowledge.service";
import NotificationsService from "./services/notifications/notifications.service";
import TasksService from "./services/tasks/tasks.service";
import UsersService from "./services/users/users.service";

/** Every service this codebase can run, by the name `SERVICES` uses. */
export const SERVICE_SCHEMAS: Record<string, ServiceSchema> = {
	api: ApiService as unknown as ServiceSchema,
	users: UsersService as unknown as ServiceSchema,
	chat: ChatService as unknown as ServiceSchema,
	tasks: TasksService as unknown as ServiceSchema,
	ai: AiService as unknown as ServiceSchema,
	knowledge: KnowledgeService as unknown as ServiceSchema,
	notifications: NotificationsService as unknown as ServiceSchema,
};

export function selectServices(requested: string[]): ServiceSchema[] {
	const names = requested.length === 0 || requested.includes("all") ? Object.keys(SERVICE_SCHEMAS) : requested;
	const unknown = names.filter((name) => !(name in SERVICE_SCHEMAS));
	if (unknown.length > 0) {
		throw new Error(`Unknown service(s) in SERVICES: ${unknown.join(", ")} (known: ${Object.keys(SERVICE_SCHEMAS).join(", ")})`);
	}
	return names.map((name) => SERVICE_SCHEMAS[name]);
}

async function main(): Promise<void> {
	const requested = listFromEnv(process.env.SERVICES);
	const schemas = selectServices(requested);
	// Fail before anything starts when production secrets are missing; warn loudly in development.
	loadSecrets();
	const broker = new ServiceBroker(createBrokerOptions());
	for (const schema of schemas) broker.createService(schema);
	await broker.start();
	// The broker stops its services itself on SIGINT/SIGTERM and then ends the process.
	await afterNodeStarted(broker);
	if (process.argv.includes("--repl")) await broker.repl();
}

if (require.main === module) {
	main().catch((err: Error) => {
		console.error(`Colony failed to start: ${err.message}`);
		process.exit(1);
	});
}

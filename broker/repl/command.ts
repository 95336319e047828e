import { Errors, type ServiceBroker } from "moleculer";

/** The arguments moleculer-repl parsed from a command line, by the names the command declares (`grant <user> <role>`). */
export type CommandArgs = Readonly<Record<string, string | undefined>>;

/** An operator's command: what the REPL wiring calls, and what tests call directly. */
export interface ColonyCommand {
	/** The command line's syntax, as commander reads it: `grant <user> <role>`. */
	command: string;
	description: string;
	/** The answer to print (a table or a sentence); throws with the reason when there is none. */
	run(broker: ServiceBroker, args: CommandArgs): Promise<string>;
}

/** Why a call failed, in a line: the error's message, its type and what a validation error found. */
export function reasonOf(err: unknown): string {
	if (!(err instanceof Error)) return String(err);
	const details = err instanceof Errors.ValidationError && Array.isArray(err.data) ? (err.data as { message?: string }[]).map((item) => item.message).filter(Boolean) : [];
	const type = err instanceof Errors.MoleculerError && err.type ? ` (${err.type})` : "";
	return [err.message + type, ...details].join(": ");
}

/** What the REPL prints for a command: its answer, or why it has none. Never throws. */
export async function answerOf(command: ColonyCommand, broker: ServiceBroker, args: CommandArgs = {}): Promise<string> {
	try {
		return await command.run(broker, args);
	} catch (err) {
		return `${command.command.split(" ")[0]} failed: ${reasonOf(err)}`;
	}
}

/** moleculer-repl hands a command its parsed line as an object: the named arguments, `options` and `rawCommand`. */
function namedArgs(parsed: unknown): CommandArgs {
	if (typeof parsed !== "object" || parsed === null) return {};
	return Object.fromEntries(Object.entries(parsed).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

/** A command as moleculer-repl registers it (`customCommands`); it prints its answer. */
export interface ReplCommand {
	command: string;
	description: string;
	action(broker: ServiceBroker, parsed: unknown): Promise<void>;
}

export function toReplCommand(command: ColonyCommand): ReplCommand {
	return {
		command: command.command,
		description: command.description,
		async action(broker: ServiceBroker, parsed: unknown) {
			console.log(await answerOf(command, broker, namedArgs(parsed)));
		},
	};
}

/** The nodes that run an action now, by node id, sorted. */
export function nodesRunning(broker: ServiceBroker, action: string): string[] {
	const endpoints = broker.registry.getActionEndpoints(action)?.endpoints ?? [];
	return [...new Set(endpoints.filter((endpoint) => endpoint.isAvailable).map((endpoint) => endpoint.id))].sort();
}

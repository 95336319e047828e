import type { ReplOptions } from "moleculer";
import { aiHostsCommand } from "./ai-hosts";
import { chatStatsCommand } from "./chat-stats";
import { toReplCommand, type ColonyCommand } from "./command";
import { grantCommand } from "./grant";

/** Colony's operator commands, beside moleculer-repl's own (`call`, `nodes`, `services`, `metrics`…). */
export const COLONY_COMMANDS: readonly ColonyCommand[] = [aiHostsCommand, chatStatsCommand, grantCommand];

export const colonyReplOptions: ReplOptions = {
	delimiter: "colony $",
	customCommands: COLONY_COMMANDS.map(toReplCommand),
};

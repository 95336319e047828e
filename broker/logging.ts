import type { LoggerConfig } from "moleculer";
import { pino, type Logger as PinoLogger } from "pino";
import { isProduction, type Env } from "../lib/config";

type Level = "fatal" | "error" | "warn" | "info" | "debug" | "trace";

/**
 * Moleculer logs as `logger.info("text", value…)`; pino wants `(object, message)` and would drop an error passed
 * after the text. Texts become the message, an error its `err` field (with its stack), objects the record's fields.
 */
export function moleculerCallsToPino(logger: PinoLogger): Record<Level, (...args: unknown[]) => void> {
	const write = (level: Level) => (...args: unknown[]) => {
		const fields: Record<string, unknown> = {};
		const words: string[] = [];
		for (const arg of args) {
			if (arg instanceof Error) fields.err = arg;
			else if (arg !== null && typeof arg === "object") Object.assign(fields, arg);
			else words.push(String(arg));
		}
		logger[level](fields, words.join(" "));
	};
	return { fatal: write("fatal"), error: write("error"), warn: write("warn"), info: write("info"), debug: write("debug"), trace: write("trace") };
}

/**
 * The console log: in production pino, one JSON line per record on stdout for the container's log collector;
 * elsewhere Moleculer's short, readable lines.
 * `levels` names a level per logger module ("**" for the rest).
 */
export function consoleLogger(env: Env, levels: Record<string, string>): LoggerConfig {
	if (!isProduction(env)) return { type: "Console", options: { level: levels, formatter: "short" } };
	const root = pino({ base: null, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } });
	return {
		type: "Pino",
		options: {
			level: levels,
			// Moleculer's Pino logger hands each module's level and bindings here, and calls what this returns.
			createLogger: (level: string, bindings: Record<string, unknown>) => moleculerCallsToPino(root.child(bindings, { level })),
		},
	} as unknown as LoggerConfig;
}

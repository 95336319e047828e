import { Errors, type Context, type ServiceSchema } from "moleculer";
import { Ollama } from "ollama";
import type { AiChatAnswer, AiChatParams, AiEmbedAnswer, AiEmbedParams, ChatRole } from "../../types/ai";

export const AI_DOUBLE_MODELS = { chat: "llama3.2", embed: "nomic-embed-text" };

/** An Ollama failure as the real ai service would pass it on: 503 when the host is away or overloaded. */
function hostError(err: unknown): never {
	const status = (err as { status_code?: number }).status_code;
	const code = status === undefined || status >= 500 ? 503 : status;
	throw new Errors.MoleculerError(`Ollama failed: ${(err as Error).message}`, code, "AI_HOST_ERROR");
}

/**
 * TEST DOUBLE of the `ai` service (the real one lives in services/ai/): `ai.embed` and non-streaming `ai.chat` with
 * the contract of types/ai.ts, forwarded to one Ollama (in tests, the OllamaTestServer) through the official
 * `ollama` client. No host pool, no caching, no streaming: just enough for the services that call `ai` to be tested.
 */
export function aiDouble(ollamaUrl: string): ServiceSchema {
	const ollama = new Ollama({ host: ollamaUrl });
	return {
		name: "ai",
		actions: {
			embed: {
				visibility: "public",
				idempotent: true,
				params: {
					$$strict: true,
					input: [{ type: "string" }, { type: "array", items: "string", min: 1, max: 256 }],
					model: { type: "string", optional: true },
				},
				async handler(ctx: Context<AiEmbedParams>): Promise<AiEmbedAnswer> {
					const model = ctx.params.model ?? AI_DOUBLE_MODELS.embed;
					const answer = await ollama.embed({ model, input: ctx.params.input }).catch(hostError);
					return { model: answer.model, embeddings: answer.embeddings };
				},
			},
			chat: {
				visibility: "public",
				idempotent: true,
				params: {
					$$strict: true,
					messages: { type: "array", min: 1, items: { type: "object", props: { role: "string", content: "string" } } },
					model: { type: "string", optional: true },
					stream: { type: "equal", value: false, optional: true },
					options: { type: "object", optional: true },
				},
				async handler(ctx: Context<AiChatParams>): Promise<AiChatAnswer> {
					const { messages, options } = ctx.params;
					const model = ctx.params.model ?? AI_DOUBLE_MODELS.chat;
					const answer = await ollama.chat({ model, messages, options, stream: false }).catch(hostError);
					return {
						message: { role: answer.message.role as ChatRole, content: answer.message.content },
						model: answer.model,
						host: ctx.broker.nodeID,
						usage: {
							promptTokens: answer.prompt_eval_count,
							outputTokens: answer.eval_count,
							durationMs: Math.round(answer.total_duration / 1e6),
						},
					};
				},
			},
		},
	};
}

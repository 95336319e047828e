/** The AI engine's contract (DESIGN §3): what callers send to `ai.*` and get back. */

export type ChatRole = "system" | "user" | "assistant";

export interface ChatMessage {
	role: ChatRole;
	content: string;
}

/** Sampling options a caller may set; anything else Ollama knows is the host's business. */
export interface InferenceOptions {
	temperature?: number;
	top_p?: number;
	top_k?: number;
	seed?: number;
	num_predict?: number;
	stop?: string[];
}

export interface AiChatParams {
	messages: ChatMessage[];
	/** Defaults to the node's AI_CHAT_MODEL. */
	model?: string;
	/** An NDJSON stream of `AiChatChunk` lines instead of one answer. */
	stream?: boolean;
	options?: InferenceOptions;
}

export interface AiChatAnswer {
	message: ChatMessage;
	model: string;
	/** The `ai` node (GPU host) that answered. */
	host: string;
	usage: AiUsage;
}

/** One line of a streamed answer: pieces of text, then a last line with `done: true` and the usage. */
export interface AiChatChunk {
	delta: string;
	done: boolean;
	model: string;
	host: string;
	usage?: AiUsage;
}

export interface AiUsage {
	promptTokens: number;
	outputTokens: number;
	/** Milliseconds from the request reaching the host to its last token. */
	durationMs: number;
}

export interface AiGenerateParams {
	prompt: string;
	system?: string;
	model?: string;
	options?: InferenceOptions;
}

export interface AiGenerateAnswer {
	text: string;
	model: string;
	host: string;
	usage: AiUsage;
}

export interface AiEmbedParams {
	/** One text or a batch (at most 256). */
	input: string | string[];
	/** Defaults to the node's AI_EMBED_MODEL. */
	model?: string;
}

export interface AiEmbedAnswer {
	model: string;
	/** One vector per input, in order. */
	embeddings: number[][];
}

/** A flat JSON schema of what `classify` must answer: an object of string, number, boolean, enum and string-list fields. */
export interface ClassifySchema {
	type: "object";
	properties: Record<string, { type: "string" | "number" | "integer" | "boolean" | "array"; enum?: string[]; items?: { type: "string"; enum?: string[] }; minimum?: number; maximum?: number; description?: string }>;
	required?: string[];
}

export interface AiClassifyParams {
	text: string;
	/** What the model is asked to do with the text, e.g. "Triage this task". */
	instruction: string;
	schema: ClassifySchema;
	model?: string;
}

export interface AiClassifyAnswer<T = Record<string, unknown>> {
	result: T;
	model: string;
	host: string;
}

/** What an `ai` node reports of its GPU host on every heartbeat (`ai.host.status`, broadcast). */
export interface AiHostStatus {
	nodeID: string;
	healthy: boolean;
	/** Why it is unhealthy, when it is. */
	problem?: string;
	checkedAt: number;
	defaultModel: string;
	embedModel: string;
	/** Models installed on the host. */
	models: string[];
	/** Models loaded in memory, with the GPU memory each takes. */
	loaded: { name: string; sizeVram: number; expiresAt: string | null }[];
	/** From nvidia-smi where the node has it. */
	gpus?: { name: string; memoryUsedMb: number; memoryTotalMb: number; utilizationPercent: number }[];
	/** Concurrent inference slots, requests running and waiting. */
	parallel: number;
	inFlight: number;
	queued: number;
}

/** What one role may do with the AI engine; admins set it per role (`PUT /api/v1/ai/policy`). */
export interface AiRolePolicy {
	/** Models the role may use; null for every model. */
	models: string[] | null;
	requestsPerMinute: number;
	/** Requests one user may have waiting for a slot on one host. */
	maxQueued: number;
}

export type AiPolicy = Record<"admin" | "member" | "guest", AiRolePolicy>;

export const DEFAULT_AI_POLICY: AiPolicy = {
	admin: { models: null, requestsPerMinute: 120, maxQueued: 20 },
	member: { models: null, requestsPerMinute: 30, maxQueued: 10 },
	guest: { models: [], requestsPerMinute: 10, maxQueued: 3 },
};

import { createHash } from "node:crypto";

/**
 * Deterministic stand-ins for what a model produces — answers, tokens, structured output, embeddings — and the
 * catalogue of models the Ollama test server knows. Everything here is a pure function of its input, so that a
 * cache keyed on the request can be tested against it.
 */

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export type Capability = "completion" | "embedding" | "tools" | "vision" | "thinking";

/** `details` of /api/tags, /api/ps and /api/show. */
export interface ModelDetails {
	parent_model: string;
	format: string;
	family: string;
	families: string[];
	parameter_size: string;
	quantization_level: string;
}

/** An installed (or pullable) model. The first five fields are what /api/tags reports. */
export interface TestModel {
	name: string;
	size: number;
	/** sha256 of the manifest, hex without the `sha256:` prefix (as /api/tags shows it). */
	digest: string;
	modified_at: string;
	details: ModelDetails;
	/** What /api/show reports; chat and generate need "completion". */
	capabilities: Capability[];
	/** Length of the vectors /api/embed answers for this model. */
	embedding_length: number;
	context_length: number;
}

/** The JSON Schema subset that `format` may carry and the server can answer. */
export interface JsonSchema {
	type?: string | string[];
	properties?: Record<string, JsonSchema>;
	required?: string[];
	items?: JsonSchema;
	enum?: Json[];
	const?: Json;
	anyOf?: JsonSchema[];
	oneOf?: JsonSchema[];
	minimum?: number;
	maximum?: number;
	minItems?: number;
	maxItems?: number;
	minLength?: number;
	maxLength?: number;
	format?: string;
}

export interface ChatMessage {
	role: string;
	content: string;
}

/** Model names without a tag mean `:latest`, as in Ollama. */
export function normalizeModelName(name: string): string {
	const trimmed = name.trim();
	const lastSegment = trimmed.slice(trimmed.lastIndexOf("/") + 1);
	return lastSegment.includes(":") ? trimmed : `${trimmed}:latest`;
}

export function sha256Hex(text: string): string {
	return createHash("sha256").update(text).digest("hex");
}

/** 32-bit FNV-1a: cheap, stable across runs and platforms. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
	let hash = seed >>> 0;
	for (let i = 0; i < text.length; i++) {
		hash ^= text.charCodeAt(i);
		hash = Math.imul(hash, 0x01000193) >>> 0;
	}
	return hash;
}

export function testModel(name: string, overrides: Partial<Omit<TestModel, "name" | "details">> & { details?: Partial<ModelDetails> } = {}): TestModel {
	const { details, ...rest } = overrides;
	const fullName = normalizeModelName(name);
	return {
		name: fullName,
		size: 1_000_000_000,
		digest: sha256Hex(`manifest:${fullName}`),
		modified_at: "2025-06-01T12:00:00Z",
		capabilities: ["completion"],
		embedding_length: 2048,
		context_length: 131072,
		...rest,
		details: {
			parent_model: "",
			format: "gguf",
			family: "llama",
			families: [details?.family ?? "llama"],
			parameter_size: "1B",
			quantization_level: "Q4_K_M",
			...details,
		},
	};
}

export function embeddingModel(name: string, dimension: number, overrides: Parameters<typeof testModel>[1] = {}): TestModel {
	return testModel(name, {
		size: 274_302_450,
		capabilities: ["embedding"],
		embedding_length: dimension,
		context_length: 2048,
		...overrides,
		details: { family: "nomic-bert", parameter_size: "137M", quantization_level: "F16", ...overrides.details },
	});
}

/** What a fresh server has installed: one chat model and one embedding model. */
export function defaultModels(embeddingDimension: number): TestModel[] {
	return [
		testModel("llama3.2:latest", {
			size: 2_019_393_189,
			capabilities: ["completion", "tools"],
			embedding_length: 3072,
			details: { family: "llama", parameter_size: "3.2B", quantization_level: "Q4_K_M" },
		}),
		embeddingModel("nomic-embed-text:latest", embeddingDimension),
	];
}

/** What /api/pull can fetch besides the defaults; anything else is unknown to the registry. */
export function defaultRegistry(embeddingDimension: number): TestModel[] {
	return [
		...defaultModels(embeddingDimension),
		testModel("qwen2.5:0.5b", {
			size: 397_821_319,
			capabilities: ["completion", "tools"],
			embedding_length: 896,
			details: { family: "qwen2", parameter_size: "494.03M", quantization_level: "Q4_K_M" },
		}),
		embeddingModel("all-minilm:latest", 384, { size: 45_960_996, context_length: 512, details: { family: "bert", parameter_size: "23M" } }),
	];
}

/** Splits text into token-like pieces (words with their leading space, runs of punctuation) that join back to it. */
export function tokenize(text: string): string[] {
	return text.match(/\s*[\p{L}\p{N}_']+|\s*[^\p{L}\p{N}_'\s]+|\s+/gu) ?? [];
}

export function countTokens(text: string): number {
	return tokenize(text).length;
}

const ENDINGS = [
	"the short answer is yes, with a few caveats worth checking first.",
	"it depends on the context, so start small and measure.",
	"there are three things to weigh: scope, time and cost.",
	"the simplest approach is usually the right one here.",
	"I would break it into smaller steps and take them one at a time.",
];

function quote(text: string, max = 120): string {
	const collapsed = text.replace(/\s+/g, " ").trim();
	return collapsed.length > max ? `${collapsed.slice(0, max - 1)}…` : collapsed;
}

/** An answer that looks like one, quotes the question, and depends only on the model and the input. */
export function answerText(model: string, input: string, toolResult?: string): string {
	if (input.trim() === "") return "Hello! How can I help you today?";
	const ending = ENDINGS[fnv1a(`${model}\n${input}`) % ENDINGS.length];
	const answer = `About "${quote(input)}": ${ending}`;
	return toolResult === undefined ? answer : `${answer} The tool said: ${quote(toolResult)}`;
}

export function lastUserText(messages: readonly ChatMessage[]): string {
	for (let i = messages.length - 1; i >= 0; i--) {
		if (messages[i].role === "user") return messages[i].content;
	}
	return "";
}

function hashOf(seed: string, key: string): number {
	return fnv1a(`${seed}\u0000${key}`);
}

function firstType(schema: JsonSchema): string | undefined {
	const types = Array.isArray(schema.type) ? schema.type : schema.type === undefined ? [] : [schema.type];
	const concrete = types.find((type) => type !== "null") ?? types[0];
	if (concrete !== undefined) return concrete;
	if (schema.properties) return "object";
	if (schema.items) return "array";
	return undefined;
}

function sampleString(schema: JsonSchema, seed: string, key: string): string {
	if (schema.format === "date") return "2025-06-01";
	if (schema.format === "date-time") return "2025-06-01T12:00:00Z";
	if (schema.format === "email") return `${key.toLowerCase().replace(/[^a-z0-9]+/g, "") || "someone"}@example.com`;
	let text = `${key} of ${quote(seed, 40)}`;
	if (schema.maxLength !== undefined) text = text.slice(0, schema.maxLength);
	if (schema.minLength !== undefined) text = text.padEnd(schema.minLength, ".");
	return text;
}

/**
 * A deterministic instance valid against a simple schema (objects, arrays, strings, numbers, integers, booleans,
 * enum, const, anyOf/oneOf: the first option). Every property is filled, required or not.
 */
export function sampleOf(schema: JsonSchema, seed: string, key = "value"): Json {
	if (schema.const !== undefined) return schema.const;
	if (schema.enum && schema.enum.length > 0) return schema.enum[hashOf(seed, key) % schema.enum.length];
	const option = (schema.anyOf ?? schema.oneOf)?.[0];
	if (option) return sampleOf(option, seed, key);
	const minimum = schema.minimum ?? 0;
	const maximum = schema.maximum ?? Math.max(minimum, 100);
	switch (firstType(schema)) {
		case "object": {
			const instance: { [name: string]: Json } = {};
			for (const [name, property] of Object.entries(schema.properties ?? {})) instance[name] = sampleOf(property, seed, name);
			return instance;
		}
		case "array": {
			const count = Math.min(Math.max(2, schema.minItems ?? 0), schema.maxItems ?? Number.POSITIVE_INFINITY);
			return Array.from({ length: count }, (_, i) => sampleOf(schema.items ?? { type: "string" }, seed, `${key} ${i + 1}`));
		}
		case "integer":
			return Math.ceil(minimum) + (hashOf(seed, key) % (Math.floor(maximum) - Math.ceil(minimum) + 1));
		case "number":
			return Math.round((minimum + ((hashOf(seed, key) % 1000) / 1000) * (maximum - minimum)) * 100) / 100;
		case "boolean":
			return hashOf(seed, key) % 2 === 0;
		case "null":
			return null;
		default:
			return sampleString(schema, seed, key);
	}
}

/** The schema `format: "json"` is answered with: any JSON object will do, this is the one the model "chose". */
export const PLAIN_JSON_SCHEMA: JsonSchema = { type: "object", properties: { answer: { type: "string" } } };

const STOP_WORDS = new Set(["a", "an", "the", "is", "are", "was", "be", "of", "to", "in", "on", "at", "and", "or", "for", "with", "it", "this", "that", "what", "how", "do", "does", "i", "you"]);

/** Adds the feature's own dense pseudo-random direction (mulberry32 seeded by its hash): distinct features are nearly orthogonal. */
function addFeature(vector: number[], feature: string, weight: number): void {
	let state = fnv1a(feature);
	for (let i = 0; i < vector.length; i++) {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = Math.imul(state ^ (state >>> 15), state | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		vector[i] += weight * ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1);
	}
}

/**
 * A dense unit vector, the sum of the directions of its words (and, lighter, of its word pairs): texts that share
 * words point in similar directions, unrelated texts are nearly orthogonal. Deterministic per text and dimension;
 * its first n components still carry the meaning, so truncating to `dimensions` works as with real models.
 */
export function embedText(text: string, dimension: number): number[] {
	const vector = new Array<number>(dimension).fill(0);
	const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
	words.forEach((word, i) => {
		addFeature(vector, word, STOP_WORDS.has(word) ? 0.2 : 1);
		if (i > 0) addFeature(vector, `${words[i - 1]} ${word}`, 0.5);
	});
	// Text without a single word still gets a direction of its own.
	if (words.length === 0) addFeature(vector, `\u0000${text}`, 1);
	return normalize(vector);
}

export function normalize(vector: number[]): number[] {
	const norm = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));
	return norm === 0 ? vector : vector.map((value) => value / norm);
}

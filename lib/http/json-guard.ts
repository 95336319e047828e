/** What a client may send in one body or one socket call, however it is shaped. */
export interface JsonLimits {
	/** Nesting of arrays and objects. */
	maxDepth: number;
	/** Object keys and array items, over the whole value. */
	maxEntries: number;
}

export const DEFAULT_JSON_LIMITS: JsonLimits = { maxDepth: 16, maxEntries: 5_000 };

export interface JsonProblem {
	type: "TOO_DEEP" | "TOO_MANY_ENTRIES" | "FORBIDDEN_KEY" | "MALFORMED_TEXT";
	message: string;
}

// Keys that would reach an object's prototype once merged or assigned somewhere (`__proto__` survives JSON.parse).
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
// A high surrogate not followed by a low one, or a low one not preceded by a high one: not text in any encoding.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Looks at a parsed body or socket payload before anything else does: nesting, size, keys and text. It walks
 * the value with its own stack, so a value nested ten thousand deep costs a loop, not a stack overflow.
 */
export function inspectJson(value: unknown, limits: JsonLimits = DEFAULT_JSON_LIMITS): JsonProblem | null {
	const pending: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
	let entries = 0;
	while (pending.length > 0) {
		const { value: current, depth } = pending.pop()!;
		if (typeof current === "string") {
			if (LONE_SURROGATE.test(current)) return { type: "MALFORMED_TEXT", message: "Text contains a lone surrogate: it is not valid Unicode" };
			continue;
		}
		if (current === null || typeof current !== "object") continue;
		if (depth >= limits.maxDepth) return { type: "TOO_DEEP", message: `Nested deeper than ${limits.maxDepth} levels` };
		const children = Array.isArray(current) ? current : Object.keys(current);
		entries += children.length;
		if (entries > limits.maxEntries) return { type: "TOO_MANY_ENTRIES", message: `More than ${limits.maxEntries} keys and items` };
		if (Array.isArray(current)) {
			for (const item of current) pending.push({ value: item, depth: depth + 1 });
			continue;
		}
		for (const key of children as string[]) {
			if (FORBIDDEN_KEYS.has(key)) return { type: "FORBIDDEN_KEY", message: `The key '${key}' is not accepted` };
			if (LONE_SURROGATE.test(key)) return { type: "MALFORMED_TEXT", message: "A key contains a lone surrogate: it is not valid Unicode" };
			pending.push({ value: (current as Record<string, unknown>)[key], depth: depth + 1 });
		}
	}
	return null;
}

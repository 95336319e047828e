import type { ClassifySchema } from "../../types/ai";

/**
 * Whether a model's structured answer fits the schema it was given: Ollama constrains the output to the schema's
 * shape, not always to its enums, ranges or required fields. Answers the problems found (none when it fits).
 */
export function schemaProblems(value: unknown, schema: ClassifySchema): string[] {
	if (typeof value !== "object" || value === null || Array.isArray(value)) return ["the answer is not a JSON object"];
	const record = value as Record<string, unknown>;
	const problems: string[] = [];
	for (const name of schema.required ?? []) if (!(name in record)) problems.push(`'${name}' is missing`);
	for (const [name, field] of Object.entries(schema.properties)) {
		if (!(name in record)) continue;
		const given = record[name];
		switch (field.type) {
			case "string":
				if (typeof given !== "string") problems.push(`'${name}' is not a string`);
				else if (field.enum && !field.enum.includes(given)) problems.push(`'${name}' is not one of ${field.enum.join(", ")}`);
				break;
			case "number":
			case "integer":
				if (typeof given !== "number" || !Number.isFinite(given) || (field.type === "integer" && !Number.isInteger(given))) {
					problems.push(`'${name}' is not a ${field.type}`);
				} else if ((field.minimum !== undefined && given < field.minimum) || (field.maximum !== undefined && given > field.maximum)) {
					problems.push(`'${name}' is out of range`);
				}
				break;
			case "boolean":
				if (typeof given !== "boolean") problems.push(`'${name}' is not a boolean`);
				break;
			case "array":
				if (!Array.isArray(given) || given.some((item) => typeof item !== "string")) problems.push(`'${name}' is not a list of strings`);
				else if (field.items?.enum) {
					const allowed = field.items.enum;
					if (given.some((item) => !allowed.includes(item as string))) problems.push(`'${name}' has items outside ${allowed.join(", ")}`);
				}
				break;
		}
	}
	return problems;
}

import { ColonyApiError } from "@colony/client";

/** A sentence for the person, from whatever a call failed with: the server's own reason where it gave one. */
export function reasonOf(err: unknown): string {
	if (err instanceof ColonyApiError) {
		if (err.status === 0) return "Colony cannot be reached. Check your connection and try again.";
		const fields = Array.isArray(err.data) ? (err.data as { message?: string }[]).map((field) => field.message).filter(Boolean) : [];
		return fields.length > 0 ? fields.join(" ") : err.message;
	}
	return err instanceof Error ? err.message : "Something went wrong.";
}

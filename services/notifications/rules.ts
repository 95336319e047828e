import type { NotificationPriority, NotificationType } from "../../types/notifications";

/** Mentions, direct messages and assignments are urgent; a due date is normal; the rest can wait for a digest. */
export const PRIORITY_OF: Record<NotificationType, NotificationPriority> = {
	mention: "urgent",
	direct_message: "urgent",
	assignment: "urgent",
	due_soon: "normal",
	status_change: "low",
	comment: "low",
	ai_reply: "low",
};

/** A notification for one person, before it is stored. */
export interface NotificationDraft {
	userId: number;
	type: NotificationType;
	title: string;
	body: string;
	link: string | null;
	actorId: number | null;
	/** One notification per person and cause: a repeated event makes none. */
	sourceKey: string;
}

const EXCERPT_LENGTH = 200;

export function excerpt(text: string | null | undefined): string {
	const flat = (text ?? "").replace(/\s+/g, " ").trim();
	return flat.length > EXCERPT_LENGTH ? `${flat.slice(0, EXCERPT_LENGTH - 1)}…` : flat;
}

/** Everyone in `people` but the one who acted, once each. */
export function recipients(people: (number | null | undefined)[], actor: number | null): number[] {
	return [...new Set(people.filter((id): id is number => typeof id === "number" && id !== actor))];
}

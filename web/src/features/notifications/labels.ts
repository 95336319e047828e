import type { NotificationType } from "@colony/types/notifications";

/** What each kind of notification is called: one of them (a badge), and the kind (a row of the preferences). */
export const TYPE_LABELS: Record<NotificationType, { one: string; kind: string }> = {
	mention: { one: "Mention", kind: "Mentions" },
	direct_message: { one: "Direct message", kind: "Direct messages" },
	assignment: { one: "Assignment", kind: "Assignments" },
	status_change: { one: "Status change", kind: "Status changes" },
	comment: { one: "Comment", kind: "Comments" },
	due_soon: { one: "Due date", kind: "Due dates" },
	ai_reply: { one: "AI reply", kind: "AI replies" },
};

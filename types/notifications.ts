/** The notifications service's contract (DESIGN §3, §4, §5). */

export type NotificationType = "mention" | "direct_message" | "assignment" | "status_change" | "comment" | "due_soon" | "ai_reply";
export const NOTIFICATION_TYPES: readonly NotificationType[] = ["mention", "direct_message", "assignment", "status_change", "comment", "due_soon", "ai_reply"];

/**
 * `urgent`: delivered at once (socket when online, else email and push). `normal`: the same. `low`: socket when
 * online, else gathered into the next digest email. Quiet hours hold them all.
 */
export type NotificationPriority = "urgent" | "normal" | "low";

export type DeliveryChannel = "socket" | "email" | "push";

export interface NotificationView {
	id: number;
	type: NotificationType;
	priority: NotificationPriority;
	title: string;
	body: string;
	/** Where in the app it points, e.g. `/channels/3?message=41` or `/tasks/12`. */
	link: string | null;
	/** Who caused it, when a person did. */
	actorId: number | null;
	createdAt: string;
	readAt: string | null;
}

export interface NotificationPage {
	items: NotificationView[];
	unread: number;
	nextCursor: string | null;
}

/** Per type: whether it is kept at all (`inApp`), and by which channels it may reach the person. */
export interface ChannelChoice {
	inApp: boolean;
	email: boolean;
	push: boolean;
}

export interface NotificationPreferences {
	/** IANA time zone the quiet hours are read in, e.g. `Europe/Paris`. */
	timeZone: string;
	/** `HH:MM`–`HH:MM` local time during which nothing is delivered (held until it ends); null: none. */
	quietHours: { start: string; end: string } | null;
	/**
	 * Low-priority notifications (comments, status changes of watched tasks, the assistant's replies) for a person
	 * who is away: gathered over `windowMinutes` into one email when `enabled`, each sent on its own otherwise.
	 */
	digest: { enabled: boolean; windowMinutes: number };
	channels: Record<NotificationType, ChannelChoice>;
}

/** A browser's Web Push subscription, as `PushManager.subscribe()` gives it. */
export interface PushSubscriptionInput {
	endpoint: string;
	keys: { p256dh: string; auth: string };
}

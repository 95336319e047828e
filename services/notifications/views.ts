import type { FieldCipher } from "../../lib/crypto/field-cipher";
import type { NotificationView } from "../../types/notifications";
import type { NotificationRow } from "./tables";

/** The associated data a notification's texts are sealed with: a text copied into another person's row does not open. */
export const sealedFor = (userId: number, field: "title" | "body") => `notifications.${field}:${userId}`;

export function notificationView(row: NotificationRow, cipher: FieldCipher): NotificationView {
	return {
		id: row.id,
		type: row.type,
		priority: row.priority,
		title: cipher.decrypt(row.titleSealed, sealedFor(row.userId, "title")),
		body: cipher.decrypt(row.bodySealed, sealedFor(row.userId, "body")),
		link: row.link,
		actorId: row.actorId,
		createdAt: new Date(row.createdAt).toISOString(),
		readAt: row.readAt ? new Date(row.readAt).toISOString() : null,
	};
}

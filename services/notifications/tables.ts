import { DataTypes, type Model, type ModelStatic, type Optional, type Sequelize } from "sequelize";
import type { DeliveryChannel, NotificationPriority, NotificationType } from "../../types/notifications";

/**
 * `pending`: to be delivered (now, or at `deliverAfter` when quiet hours held it). `delivered`: sent on what its
 * person chose. `digest`: waits for the next digest email. `digested`: went out in digest `digestId`.
 */
export type NotificationState = "pending" | "delivered" | "digest" | "digested";

export interface NotificationRow {
	id: number;
	userId: number;
	type: NotificationType;
	priority: NotificationPriority;
	/** Sealed with AES-256-GCM: they quote messages and tasks, which are sealed where they come from. */
	titleSealed: string;
	bodySealed: string;
	link: string | null;
	actorId: number | null;
	/** What caused it (e.g. `mention:41`): one notification per person and cause, however often the event comes. */
	sourceKey: string;
	state: NotificationState;
	deliverAfter: Date | null;
	digestId: number | null;
	readAt: Date | null;
	createdAt: Date;
	updatedAt: Date;
}

/** One channel's delivery of one notification: claimed before sending, so a redelivered job sends it once. */
export interface DeliveryRow {
	id: number;
	notificationId: number;
	channel: DeliveryChannel;
	status: "sending" | "sent" | "failed" | "skipped";
	attempts: number;
	detail: string | null;
	createdAt: Date;
	updatedAt: Date;
}

export interface DigestRow {
	id: number;
	userId: number;
	count: number;
	sentAt: Date | null;
	/** When a node took it to send: another node leaves it alone until the claim is stale. */
	claimedAt: Date | null;
	createdAt: Date;
}

export interface PreferenceRow {
	userId: number;
	timezone: string;
	quietStart: string | null;
	quietEnd: string | null;
	digestEnabled: boolean;
	digestWindowMinutes: number;
	/** JSON: per notification type, { inApp, email, push }; types not listed take the defaults. */
	channels: string;
	createdAt: Date;
	updatedAt: Date;
}

export interface PushSubscriptionRow {
	id: number;
	userId: number;
	/** Keyed hash of the endpoint, to find it again; the endpoint and keys themselves are sealed. */
	endpointIndex: string;
	endpointSealed: string;
	keysSealed: string;
	createdAt: Date;
}

type NotificationModel = Model<NotificationRow, Optional<NotificationRow, "id" | "createdAt" | "updatedAt" | "deliverAfter" | "digestId" | "readAt">>;
type DeliveryModel = Model<DeliveryRow, Optional<DeliveryRow, "id" | "createdAt" | "updatedAt" | "detail">>;
type DigestModel = Model<DigestRow, Optional<DigestRow, "id" | "createdAt" | "sentAt" | "claimedAt">>;
type PreferenceModel = Model<PreferenceRow, Optional<PreferenceRow, "createdAt" | "updatedAt">>;
type PushSubscriptionModel = Model<PushSubscriptionRow, Optional<PushSubscriptionRow, "id" | "createdAt">>;

export interface NotificationsTables {
	notifications: ModelStatic<NotificationModel>;
	deliveries: ModelStatic<DeliveryModel>;
	digests: ModelStatic<DigestModel>;
	preferences: ModelStatic<PreferenceModel>;
	pushSubscriptions: ModelStatic<PushSubscriptionModel>;
}

export function defineNotificationsTables(db: Sequelize): NotificationsTables {
	return {
		notifications: db.define<NotificationModel, Omit<NotificationRow, "createdAt" | "updatedAt">>(
			"notification",
			{
				id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
				userId: { type: DataTypes.INTEGER, allowNull: false },
				type: { type: DataTypes.STRING(32), allowNull: false },
				priority: { type: DataTypes.STRING(16), allowNull: false },
				titleSealed: { type: DataTypes.TEXT, allowNull: false },
				bodySealed: { type: DataTypes.TEXT, allowNull: false },
				link: { type: DataTypes.STRING(300), allowNull: true },
				actorId: { type: DataTypes.INTEGER, allowNull: true },
				sourceKey: { type: DataTypes.STRING(120), allowNull: false },
				state: { type: DataTypes.STRING(16), allowNull: false },
				deliverAfter: { type: DataTypes.DATE, allowNull: true },
				digestId: { type: DataTypes.INTEGER, allowNull: true },
				readAt: { type: DataTypes.DATE, allowNull: true },
			},
			{ tableName: "notifications" },
		),
		deliveries: db.define<DeliveryModel, Omit<DeliveryRow, "createdAt" | "updatedAt">>(
			"notificationDelivery",
			{
				id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
				notificationId: { type: DataTypes.INTEGER, allowNull: false },
				channel: { type: DataTypes.STRING(16), allowNull: false },
				status: { type: DataTypes.STRING(16), allowNull: false },
				attempts: { type: DataTypes.INTEGER, allowNull: false },
				detail: { type: DataTypes.STRING(300), allowNull: true },
			},
			{ tableName: "notification_deliveries" },
		),
		digests: db.define<DigestModel, Omit<DigestRow, "createdAt">>(
			"notificationDigest",
			{
				id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
				userId: { type: DataTypes.INTEGER, allowNull: false },
				count: { type: DataTypes.INTEGER, allowNull: false },
				sentAt: { type: DataTypes.DATE, allowNull: true },
				claimedAt: { type: DataTypes.DATE, allowNull: true },
			},
			{ tableName: "notification_digests", updatedAt: false },
		),
		preferences: db.define<PreferenceModel, Omit<PreferenceRow, "createdAt" | "updatedAt">>(
			"notificationPreference",
			{
				userId: { type: DataTypes.INTEGER, primaryKey: true },
				timezone: { type: DataTypes.STRING(64), allowNull: false },
				quietStart: { type: DataTypes.STRING(5), allowNull: true },
				quietEnd: { type: DataTypes.STRING(5), allowNull: true },
				digestEnabled: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
				digestWindowMinutes: { type: DataTypes.INTEGER, allowNull: false },
				channels: { type: DataTypes.TEXT, allowNull: false },
			},
			{ tableName: "notification_preferences" },
		),
		pushSubscriptions: db.define<PushSubscriptionModel, Omit<PushSubscriptionRow, "createdAt">>(
			"pushSubscription",
			{
				id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
				userId: { type: DataTypes.INTEGER, allowNull: false },
				endpointIndex: { type: DataTypes.STRING(64), allowNull: false },
				endpointSealed: { type: DataTypes.TEXT, allowNull: false },
				keysSealed: { type: DataTypes.TEXT, allowNull: false },
			},
			{ tableName: "push_subscriptions", updatedAt: false },
		),
	};
}

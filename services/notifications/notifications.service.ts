import { Errors, type Context, type ServiceSchema } from "moleculer";
import type { Agent } from "node:https";
import { Op, UniqueConstraintError } from "sequelize";
import { NotFoundError, ServiceBusyError } from "../../broker/errors";
import { systemClock } from "../../lib/clock";
import { loadSecrets } from "../../lib/config";
import { FieldCipher } from "../../lib/crypto/field-cipher";
import { createMailer, type Mailer } from "../../lib/notify/mailer";
import { isTimeZone } from "../../lib/notify/quiet-hours";
import { isPublicPushEndpoint, loadVapidKeys, PushSender, type PushTarget } from "../../lib/notify/web-push";
import { idParam } from "../../lib/validation";
import { AssistantAwareMixin, type AssistantAwareMethods, type AssistantAwareState } from "../../mixins/assistant-aware.mixin";
import { createDbMixin, type DbServiceThis, type DbSettings } from "../../mixins/db.mixin";
import type { AssistantRepliedEvent, ChannelView, ChatMessageEvent } from "../../types/chat";
import {
	NOTIFICATION_TYPES,
	type ChannelChoice,
	type NotificationPage,
	type NotificationPreferences,
	type NotificationType,
	type NotificationView,
	type PushSubscriptionInput,
} from "../../types/notifications";
import type { TaskAssignedEvent, TaskCommentedEvent, TaskDueSoonEvent, TaskTransitionedEvent, TaskView } from "../../types/tasks";
import type { CallerMeta, SessionUser } from "../../types/users";
import { DELIVERY_JOBS, NotificationDelivery, type DeliveryJob, type DeliverySettings } from "./delivery";
import { notificationsMigrations } from "./migrations";
import { preferenceRow, preferencesOf } from "./preferences";
import { excerpt, PRIORITY_OF, recipients, type NotificationDraft } from "./rules";
import { defineNotificationsTables, type NotificationsTables } from "./tables";
import { notificationView, sealedFor } from "./views";

export interface NotificationsSettings extends DbSettings, DeliverySettings {
	/**
	 * The time schedulers and quiet hours read (tests pass a ManualClock's). A function, since Moleculer copies
	 * settings objects when it merges mixins, and a copied clock would not move with the test's.
	 */
	now: () => number;
	/** Every this long: held notifications whose hold ended, lost jobs, and digests whose window passed. */
	tickMs: number;
	smtpUrl?: string;
	mailFrom: string;
	/** How to reach Web Push services (a proxy's agent); Node's default otherwise. A function, as `now`. */
	pushAgent?: () => Agent;
}

interface NotificationsState {
	cipher: FieldCipher;
	mailer: Mailer;
	push: PushSender | null;
	delivery: NotificationDelivery;
	ticker?: NodeJS.Timeout;
}

interface NotificationsMethods {
	notify(drafts: NotificationDraft[]): Promise<void>;
	nameOf(userId: number): Promise<string>;
	preferencesFor(userId: number): Promise<NotificationPreferences>;
	pushTargetsOf(userId: number): Promise<(PushTarget & { id: number })[]>;
	unreadCount(userId: number): Promise<number>;
	tick(): Promise<{ requeued: number; digests: number }>;
}

type NotificationsContext<P = unknown> = Context<P, CallerMeta>;
type Session = Omit<SessionUser, "tokenId" | "tokenExpiresAt" | "sessionId">;

interface PreferencesInput {
	timeZone?: string;
	quietHours?: { start: string; end: string } | null;
	digest?: { enabled?: boolean; windowMinutes?: number };
	channels?: Partial<Record<NotificationType, Partial<ChannelChoice>>>;
}

const CLOCK_TIME = { type: "string", pattern: /^([01]\d|2[0-3]):[0-5]\d$/ } as const;
const CHANNEL_CHOICE = {
	type: "object",
	strict: true,
	optional: true,
	props: { inApp: { type: "boolean", optional: true }, email: { type: "boolean", optional: true }, push: { type: "boolean", optional: true } },
} as const;

const taskLink = (task: TaskView) => `/tasks/${task.id}`;

/** Browsers one person may have subscribed at once; the oldest subscription gives way to a new one. */
const MAX_PUSH_SUBSCRIPTIONS = 10;

/**
 * In-app notifications for mentions, direct messages, assignments, status changes and comments of watched tasks,
 * due dates and the assistant's answers; delivered over the socket, by email (one at a time, or as a digest) and
 * by Web Push, as each person chose and when they accept (DESIGN §3).
 */
const NotificationsService: ServiceSchema<NotificationsSettings, NotificationsMethods & AssistantAwareMethods, NotificationsState & AssistantAwareState & DbServiceThis<NotificationsTables>> = {
	name: "notifications",
	mixins: [createDbMixin({ database: "notifications", migrations: notificationsMigrations, defineTables: defineNotificationsTables }), AssistantAwareMixin],

	settings: {
		rest: "/",
		now: () => systemClock.now(),
		tickMs: 30_000,
		smtpUrl: process.env.SMTP_URL,
		mailFrom: process.env.MAIL_FROM ?? "Colony <colony@localhost>",
		appUrl: process.env.PUBLIC_URL ?? "http://localhost:8080",
		retryAfterMs: 60_000,
		maxAttempts: 5,
		staleClaimMs: 120_000,
		digestSummaryTimeoutMs: 30_000,
		$secureSettings: ["smtpUrl"],
	},

	actions: {
		list: {
			rest: "GET /notifications",
			access: "notifications:read",
			socket: true,
			idempotent: true,
			params: {
				$$strict: true,
				unread: { type: "boolean", convert: true, optional: true },
				cursor: { type: "string", pattern: /^\d{1,12}$/, optional: true },
				limit: { type: "number", integer: true, min: 1, max: 100, convert: true, default: 30 },
			},
			async handler(ctx: NotificationsContext<{ unread?: boolean; cursor?: string; limit: number }>): Promise<NotificationPage> {
				const userId = ctx.meta.user.id;
				const where: Record<string | symbol, unknown> = { userId };
				if (ctx.params.unread) where.readAt = { [Op.is]: null };
				if (ctx.params.cursor) where.id = { [Op.lt]: Number(ctx.params.cursor) };
				const rows = await this.tables.notifications.findAll({ where, order: [["id", "DESC"]], limit: ctx.params.limit + 1 });
				const page = rows.slice(0, ctx.params.limit).map((row) => row.get({ plain: true }));
				return {
					items: page.map((row) => notificationView(row, this.cipher)),
					unread: await this.unreadCount(userId),
					nextCursor: rows.length > ctx.params.limit ? String(page[page.length - 1].id) : null,
				};
			},
		},

		read: {
			rest: "POST /notifications/:id/read",
			access: "notifications:read",
			socket: true,
			idempotent: true,
			params: { $$strict: true, id: idParam },
			async handler(ctx: NotificationsContext<{ id: number }>): Promise<{ notification: NotificationView; unread: number }> {
				const userId = ctx.meta.user.id;
				const row = (await this.tables.notifications.findOne({ where: { id: ctx.params.id, userId } }))?.get({ plain: true });
				if (!row) throw new NotFoundError(`Notification ${ctx.params.id} not found`, "NOTIFICATION_NOT_FOUND", { id: ctx.params.id });
				if (!row.readAt) {
					row.readAt = new Date(this.settings.now());
					await this.tables.notifications.update({ readAt: row.readAt }, { where: { id: row.id, readAt: { [Op.is]: null } } });
				}
				return { notification: notificationView(row, this.cipher), unread: await this.unreadCount(userId) };
			},
		},

		readAll: {
			rest: "POST /notifications/read-all",
			access: "notifications:read",
			socket: true,
			idempotent: true,
			params: { $$strict: true },
			async handler(ctx: NotificationsContext): Promise<{ read: number; unread: number }> {
				const [read] = await this.tables.notifications.update(
					{ readAt: new Date(this.settings.now()) },
					{ where: { userId: ctx.meta.user.id, readAt: { [Op.is]: null } } },
				);
				return { read, unread: 0 };
			},
		},

		getPreferences: {
			rest: "GET /notifications/preferences",
			access: "notifications:read",
			socket: true,
			idempotent: true,
			params: { $$strict: true },
			handler(ctx: NotificationsContext): Promise<NotificationPreferences> {
				return this.preferencesFor(ctx.meta.user.id);
			},
		},

		setPreferences: {
			rest: "PUT /notifications/preferences",
			access: "notifications:read",
			socket: true,
			idempotent: true,
			params: {
				$$strict: true,
				timeZone: { type: "string", min: 1, max: 64, pattern: /^[A-Za-z0-9_+\-/]+$/, optional: true },
				quietHours: { type: "object", strict: true, nullable: true, optional: true, props: { start: CLOCK_TIME, end: CLOCK_TIME } },
				digest: {
					type: "object",
					strict: true,
					optional: true,
					props: { enabled: { type: "boolean", optional: true }, windowMinutes: { type: "number", integer: true, min: 5, max: 24 * 60, optional: true } },
				},
				channels: { type: "object", strict: true, optional: true, props: Object.fromEntries(NOTIFICATION_TYPES.map((type) => [type, CHANNEL_CHOICE])) },
			},
			async handler(ctx: NotificationsContext<PreferencesInput>): Promise<NotificationPreferences> {
				const { timeZone, quietHours, digest, channels } = ctx.params;
				if (timeZone !== undefined && !isTimeZone(timeZone)) {
					throw new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
						{ field: "timeZone", type: "timeZone", message: "The 'timeZone' field must be an IANA time zone such as 'Europe/Paris'." },
					]);
				}
				const current = await this.preferencesFor(ctx.meta.user.id);
				const next: NotificationPreferences = {
					timeZone: timeZone ?? current.timeZone,
					quietHours: quietHours === undefined ? current.quietHours : quietHours,
					digest: { ...current.digest, ...digest },
					channels: { ...current.channels },
				};
				for (const type of NOTIFICATION_TYPES) next.channels[type] = { ...next.channels[type], ...channels?.[type] };
				await this.tables.preferences.upsert(preferenceRow(ctx.meta.user.id, next));
				return next;
			},
		},

		pushKey: {
			rest: "GET /notifications/push/key",
			access: "user",
			idempotent: true,
			params: { $$strict: true },
			handler(): { publicKey: string } {
				if (!this.push) throw new ServiceBusyError("Web Push is not set up on this server (VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY)", 3_600, "PUSH_NOT_CONFIGURED");
				return { publicKey: this.push.publicKey };
			},
		},

		subscribePush: {
			rest: "POST /notifications/push/subscriptions",
			access: "notifications:read",
			idempotent: true,
			params: {
				$$strict: true,
				endpoint: { type: "url", max: 2_000 },
				keys: { type: "object", strict: true, props: { p256dh: { type: "string", min: 16, max: 200, pattern: /^[A-Za-z0-9_-]+=*$/ }, auth: { type: "string", min: 8, max: 100, pattern: /^[A-Za-z0-9_-]+=*$/ } } },
			},
			async handler(ctx: NotificationsContext<PushSubscriptionInput>): Promise<{ subscribed: true }> {
				if (process.env.NODE_ENV === "production" && !isPublicPushEndpoint(ctx.params.endpoint)) {
					throw new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
						{ field: "endpoint", type: "url", message: "A push endpoint must be an https:// address of a push service, by name." },
					]);
				}
				const endpointIndex = this.cipher.blindIndex(`push:${ctx.params.endpoint}`);
				const row = {
					userId: ctx.meta.user.id,
					endpointIndex,
					endpointSealed: this.cipher.encrypt(ctx.params.endpoint, "notifications.push.endpoint"),
					keysSealed: this.cipher.encrypt(JSON.stringify(ctx.params.keys), "notifications.push.keys"),
				};
				// The same browser subscribing again (or for another person on a shared computer) replaces its row.
				await this.tables.pushSubscriptions.destroy({ where: { endpointIndex } });
				await this.tables.pushSubscriptions.create(row).catch((err: unknown) => {
					if (!(err instanceof UniqueConstraintError)) throw err;
				});
				// A person has a few browsers; a script subscribing endlessly must not make every delivery fan out.
				const older = await this.tables.pushSubscriptions.findAll({
					where: { userId: ctx.meta.user.id },
					attributes: ["id"],
					order: [["id", "DESC"]],
					offset: MAX_PUSH_SUBSCRIPTIONS,
				});
				if (older.length > 0) await this.tables.pushSubscriptions.destroy({ where: { id: { [Op.in]: older.map((sub) => sub.get({ plain: true }).id) } } });
				ctx.meta.$statusCode = 201;
				return { subscribed: true };
			},
		},

		unsubscribePush: {
			rest: "DELETE /notifications/push/subscriptions",
			access: "notifications:read",
			idempotent: true,
			params: { $$strict: true, endpoint: { type: "url", max: 2_000 } },
			async handler(ctx: NotificationsContext<{ endpoint: string }>): Promise<{ removed: number }> {
				const removed = await this.tables.pushSubscriptions.destroy({
					where: { endpointIndex: this.cipher.blindIndex(`push:${ctx.params.endpoint}`), userId: ctx.meta.user.id },
				});
				return { removed };
			},
		},

		/** Runs the scheduled work now: held notifications whose hold ended, lost jobs, digests due (tests, operators). */
		tick: {
			visibility: "public",
			idempotent: true,
			params: {},
			handler(): Promise<{ requeued: number; digests: number }> {
				return this.tick();
			},
		},
	},

	events: {
		async "chat.message.created"(ctx: Context<ChatMessageEvent>) {
			const { message, channel } = ctx.params;
			const sender = message.userId;
			if (message.deletedAt || (await this.isAssistant(sender))) return;
			const senderName = await this.nameOf(sender);
			const link = `/channels/${channel.id}?message=${message.id}`;
			const drafts: NotificationDraft[] = [];
			const mentioned = recipients(message.mentions, sender);
			if (mentioned.length > 0) {
				const where =
					channel.type === "direct"
						? "a direct message"
						: await ctx
								.call<{ channel: ChannelView }, { id: number }>("chat.getChannel", { id: channel.id }, { meta: { user: { id: sender, permissions: ["chat:read"] } } })
								.then(({ channel: view }) => `#${view.name}`)
								.catch(() => "a channel");
				for (const userId of mentioned) {
					drafts.push({ userId, type: "mention", title: `${senderName} mentioned you in ${where}`, body: excerpt(message.text), link, actorId: sender, sourceKey: `mention:${message.id}` });
				}
			}
			if (channel.type === "direct") {
				for (const userId of recipients(channel.memberIds ?? [], sender).filter((id) => !mentioned.includes(id))) {
					drafts.push({ userId, type: "direct_message", title: `${senderName} sent you a message`, body: excerpt(message.text), link, actorId: sender, sourceKey: `dm:${message.id}` });
				}
			}
			await this.notify(drafts);
		},

		async "chat.assistant.replied"(ctx: Context<AssistantRepliedEvent>) {
			const { message, requesterId, channelId, replyTo } = ctx.params;
			await this.notify([
				{
					userId: requesterId,
					type: "ai_reply",
					title: "The AI assistant answered you",
					body: excerpt(message.text),
					link: `/channels/${channelId}?message=${message.id}`,
					actorId: null,
					sourceKey: `ai_reply:${replyTo}`,
				},
			]);
		},

		async "tasks.task.assigned"(ctx: Context<TaskAssignedEvent>) {
			const { task, assigneeId, by } = ctx.params;
			if (assigneeId === by) return;
			await this.notify([
				{
					userId: assigneeId,
					type: "assignment",
					title: `${await this.nameOf(by)} assigned you “${task.title}”`,
					body: excerpt(task.description),
					link: taskLink(task),
					actorId: by,
					sourceKey: `assignment:${task.id}:${task.version}`,
				},
			]);
		},

		async "tasks.task.transitioned"(ctx: Context<TaskTransitionedEvent>) {
			const { task, to, by, watcherIds } = ctx.params;
			const actor = await this.nameOf(by);
			await this.notify(
				recipients(watcherIds, by).map((userId) => ({
					userId,
					type: "status_change",
					title: `${actor} moved “${task.title}” to ${to}`,
					body: "",
					link: taskLink(task),
					actorId: by,
					sourceKey: `status:${task.id}:${task.version}`,
				})),
			);
		},

		async "tasks.comment.created"(ctx: Context<TaskCommentedEvent>) {
			const { task, comment, by, watcherIds } = ctx.params;
			const actor = await this.nameOf(by);
			await this.notify(
				recipients(watcherIds, by).map((userId) => ({
					userId,
					type: "comment",
					title: `${actor} commented on “${task.title}”`,
					body: excerpt(comment.text),
					link: taskLink(task),
					actorId: by,
					sourceKey: `comment:${comment.id}`,
				})),
			);
		},

		async "tasks.task.due_soon"(ctx: Context<TaskDueSoonEvent>) {
			const { task, watcherIds } = ctx.params;
			const people = task.assigneeId ? [task.assigneeId] : watcherIds;
			await this.notify(
				recipients(people, null).map((userId) => ({
					userId,
					type: "due_soon",
					title: `“${task.title}” is due ${task.dueDate ? new Date(task.dueDate).toUTCString() : "soon"}`,
					body: excerpt(task.description),
					link: taskLink(task),
					actorId: null,
					sourceKey: `due:${task.id}:${task.dueDate}`,
				})),
			);
		},
	},

	channels: {
		[DELIVERY_JOBS]: {
			group: "notifications-delivery",
			maxInFlight: 32,
			maxRetries: 5,
			deadLettering: { enabled: true, queueName: `${DELIVERY_JOBS}.failed` },
			nats: { consumerOptions: { config: { ack_wait: 60_000 * 1_000_000 } } },
			handler(job: DeliveryJob) {
				return this.delivery.deliver(job.notificationId);
			},
		},
	},

	methods: {
		/**
		 * Stores each notification (once per person and cause) and queues its delivery. A notification stored but
		 * never queued (a crash between the two) is found by the next tick and queued then.
		 */
		async notify(drafts: NotificationDraft[]) {
			for (const draft of drafts) {
				if (await this.isAssistant(draft.userId)) continue;
				const preferences = await this.preferencesFor(draft.userId);
				if (!preferences.channels[draft.type].inApp) continue;
				let id: number;
				try {
					const row = await this.tables.notifications.create({
						userId: draft.userId,
						type: draft.type,
						priority: PRIORITY_OF[draft.type],
						titleSealed: this.cipher.encrypt(draft.title, sealedFor(draft.userId, "title")),
						bodySealed: this.cipher.encrypt(draft.body, sealedFor(draft.userId, "body")),
						link: draft.link,
						actorId: draft.actorId,
						sourceKey: draft.sourceKey,
						state: "pending",
					});
					id = row.get({ plain: true }).id;
				} catch (err) {
					// The same event came again (a retry, a redelivery): its notification exists already.
					if (err instanceof UniqueConstraintError) continue;
					throw err;
				}
				try {
					await this.broker.sendToChannel(DELIVERY_JOBS, { notificationId: id } satisfies DeliveryJob);
				} catch (err) {
					this.logger.warn(`Notification ${id} is stored; its delivery waits for the next tick: ${(err as Error).message}`);
				}
			}
		},

		async nameOf(userId: number) {
			const session = await this.broker.call<Session | null, { id: number }>("users.session", { id: userId }).catch(() => null);
			return session?.displayName ?? "Someone";
		},

		async preferencesFor(userId: number) {
			return preferencesOf((await this.tables.preferences.findByPk(userId))?.get({ plain: true }));
		},

		async pushTargetsOf(userId: number) {
			const rows = await this.tables.pushSubscriptions.findAll({ where: { userId } });
			return rows.map((entry) => {
				const row = entry.get({ plain: true });
				const keys = JSON.parse(this.cipher.decrypt(row.keysSealed, "notifications.push.keys")) as PushSubscriptionInput["keys"];
				return { id: row.id, endpoint: this.cipher.decrypt(row.endpointSealed, "notifications.push.endpoint"), p256dh: keys.p256dh, auth: keys.auth };
			});
		},

		unreadCount(userId: number) {
			return this.tables.notifications.count({ where: { userId, readAt: { [Op.is]: null } } });
		},

		async tick() {
			const requeued = await this.delivery.requeueDue();
			const digests = await this.delivery.sendDueDigests();
			return { requeued, digests };
		},
	},

	created() {
		const secrets = loadSecrets();
		this.cipher = new FieldCipher(secrets.dataKey, secrets.previousDataKeys, secrets.indexKey);
		this.mailer = createMailer(this.settings.smtpUrl, this.settings.mailFrom, (message) => this.logger.info(message));
		const vapid = loadVapidKeys();
		this.push = vapid ? new PushSender(vapid, 10_000, this.settings.pushAgent?.()) : null;
		if (!vapid) this.logger.warn("VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are not set: Web Push is off");
		// The tables exist once the database is connected (started): read through the service then.
		const tables = () => this.tables;
		this.delivery = new NotificationDelivery(
			{
				broker: this.broker,
				logger: this.logger,
				get tables() {
					return tables();
				},
				cipher: this.cipher,
				clock: { now: () => this.settings.now() },
				mailer: this.mailer,
				push: this.push,
				transaction: (work) => this.transaction(work),
				preferencesFor: (userId) => this.preferencesFor(userId),
				pushTargetsOf: (userId) => this.pushTargetsOf(userId),
			},
			this.settings,
		);
	},

	async started() {
		this.ticker = setInterval(() => {
			this.tick().catch((err: unknown) => this.logger.warn(`The notifications tick failed: ${(err as Error).message}`));
		}, this.settings.tickMs);
		this.ticker.unref();
	},

	async stopped() {
		clearInterval(this.ticker);
		this.mailer.close();
	},
};

export default NotificationsService;

import type { ServiceBroker } from "moleculer";
import { Op, UniqueConstraintError, type Transaction } from "sequelize";
import { pushToSockets, userRoom } from "../../broker/realtime";
import type { Clock } from "../../lib/clock";
import type { FieldCipher } from "../../lib/crypto/field-cipher";
import type { Mailer } from "../../lib/notify/mailer";
import { quietUntil } from "../../lib/notify/quiet-hours";
import type { PushSender, PushTarget } from "../../lib/notify/web-push";
import type { AiGenerateAnswer } from "../../types/ai";
import type { PresenceStatus } from "../../types/contract";
import type { DeliveryChannel, NotificationPreferences, NotificationView } from "../../types/notifications";
import type { SessionUser, UserContact } from "../../types/users";
import type { DeliveryRow, NotificationRow, NotificationsTables } from "./tables";
import { notificationView } from "./views";

/** The durable queue each stored notification goes through to be delivered (DESIGN §3). */
export const DELIVERY_JOBS = "notifications.deliveries";

export interface DeliveryJob {
	notificationId: number;
}

export interface DeliverySettings {
	/** Where links in emails point, e.g. `https://colony.example.com`. */
	appUrl: string;
	/** A failed email or push is tried again after this long, up to `maxAttempts` times. */
	retryAfterMs: number;
	maxAttempts: number;
	/** A claim older than this whose sender never finished is taken to have died: the next try sends again. */
	staleClaimMs: number;
	/** How long the AI may take to summarise a digest before the plain list goes out. */
	digestSummaryTimeoutMs: number;
}

/** What delivery needs of the notifications service it lives in. */
export interface DeliveryHost {
	broker: ServiceBroker;
	logger: ServiceBroker["logger"];
	tables: NotificationsTables;
	cipher: FieldCipher;
	clock: Clock;
	mailer: Mailer;
	push: PushSender | null;
	transaction<T>(work: (transaction: Transaction) => Promise<T>): Promise<T>;
	preferencesFor(userId: number): Promise<NotificationPreferences>;
	pushTargetsOf(userId: number): Promise<(PushTarget & { id: number })[]>;
}

type Session = Omit<SessionUser, "tokenId" | "tokenExpiresAt" | "sessionId">;

/**
 * Delivers stored notifications the way each person chose (DESIGN §3): over the socket to a person who is
 * connected; otherwise by email and Web Push, or, for low-priority ones, gathered into one digest email per window.
 * Quiet hours hold a notification until they end. Every channel's send is claimed in the database first, so a
 * job taken twice (a crash, a redelivery) sends once; an email carries a stable Message-ID besides.
 */
export class NotificationDelivery {
	constructor(
		private readonly host: DeliveryHost,
		private readonly settings: DeliverySettings,
	) {}

	async deliver(notificationId: number): Promise<void> {
		const { tables, clock } = this.host;
		const row = (await tables.notifications.findByPk(notificationId))?.get({ plain: true });
		if (!row || row.state !== "pending") return;
		// Seen in the app already (e.g. while quiet hours held it): nothing more to tell.
		if (row.readAt) {
			await this.setState(row.id, "delivered");
			return;
		}
		const now = clock.now();
		if (row.deliverAfter && new Date(row.deliverAfter).getTime() > now) return;
		const preferences = await this.host.preferencesFor(row.userId);
		const quietEnd = preferences.quietHours ? quietUntil(now, preferences.timeZone, preferences.quietHours.start, preferences.quietHours.end) : null;
		if (quietEnd !== null) {
			await this.holdUntil(row.id, quietEnd);
			return;
		}
		const view = notificationView(row, this.host.cipher);
		if (await this.isConnected(row.userId)) {
			if (await this.claim(row.id, "socket")) {
				await pushToSockets(this.host.broker, { rooms: [userRoom(row.userId)], event: "notification", data: view });
				await this.finish(row.id, "socket", "sent");
			}
			await this.setState(row.id, "delivered");
			return;
		}
		const choice = preferences.channels[row.type];
		if (row.priority === "low" && preferences.digest.enabled) {
			// Waits for the digest email, due a window after the first one waiting; a person who does not want this
			// type by email gets it in the app only. Without the digest it goes out on its own, as the others do.
			if (choice.email) await this.gatherForDigest(row.id, now + preferences.digest.windowMinutes * 60_000);
			else await this.setState(row.id, "delivered");
			return;
		}
		const outcomes = await Promise.all([
			choice.email ? this.sendEmail(row, view) : Promise.resolve<Outcome>("done"),
			choice.push ? this.sendPush(row, view) : Promise.resolve<Outcome>("done"),
		]);
		if (outcomes.includes("retry")) await this.holdUntil(row.id, now + this.settings.retryAfterMs);
		else await this.setState(row.id, "delivered");
	}

	/** Pending notifications whose hold ended, and any a crash left behind: queued again. */
	async requeueDue(): Promise<number> {
		const { tables, clock } = this.host;
		const now = clock.now();
		const due = await tables.notifications.findAll({
			where: {
				state: "pending",
				[Op.or]: [
					{ deliverAfter: { [Op.lte]: new Date(now) } },
					// Never held, yet still pending a while after it was stored: its job was lost.
					{ deliverAfter: { [Op.is]: null }, updatedAt: { [Op.lt]: new Date(Date.now() - this.settings.staleClaimMs) } },
				],
			},
			attributes: ["id"],
			limit: 500,
		});
		for (const { id } of due.map((row) => row.get({ plain: true }))) {
			// The hold is over: without it the job delivers now.
			await tables.notifications.update({ deliverAfter: null }, { where: { id, state: "pending" } });
			await this.host.broker.sendToChannel(DELIVERY_JOBS, { notificationId: id } satisfies DeliveryJob);
		}
		return due.length;
	}

	/** Sends the digests whose window has passed (one email per person), and any a crash left unsent. */
	async sendDueDigests(): Promise<number> {
		const { tables, clock } = this.host;
		const now = clock.now();
		// Each waiting notification carries when its person's digest is due: a window after the first of them.
		const waiting = await tables.notifications.findAll({ where: { state: "digest" }, attributes: ["userId", "deliverAfter"], limit: 5_000 });
		const dueAt = new Map<number, number>();
		for (const row of waiting.map((entry) => entry.get({ plain: true }))) {
			const at = row.deliverAfter ? new Date(row.deliverAfter).getTime() : 0;
			dueAt.set(row.userId, Math.min(dueAt.get(row.userId) ?? Number.MAX_SAFE_INTEGER, at));
		}
		let sent = 0;
		for (const [userId, due] of dueAt) {
			if (due > now) continue;
			const preferences = await this.host.preferencesFor(userId);
			if (preferences.quietHours && quietUntil(now, preferences.timeZone, preferences.quietHours.start, preferences.quietHours.end) !== null) continue;
			const digestId = await this.claimDigest(userId);
			if (digestId !== null) sent += 1;
		}
		const unsent = await tables.digests.findAll({ where: { sentAt: { [Op.is]: null } }, limit: 100 });
		for (const digest of unsent.map((entry) => entry.get({ plain: true }))) {
			if (await this.claimDigestSend(digest.id)) await this.sendDigest(digest.id, digest.userId);
		}
		return sent;
	}

	/** Moves a person's waiting notifications into a new digest, in one transaction: a digest claims each once. */
	private async claimDigest(userId: number): Promise<number | null> {
		const { tables } = this.host;
		return this.host.transaction(async (transaction) => {
			const digest = (await tables.digests.create({ userId, count: 0 }, { transaction })).get({ plain: true });
			const [count] = await tables.notifications.update({ state: "digested", digestId: digest.id }, { where: { userId, state: "digest" }, transaction });
			if (count === 0) {
				await tables.digests.destroy({ where: { id: digest.id }, transaction });
				return null;
			}
			await tables.digests.update({ count }, { where: { id: digest.id }, transaction });
			return digest.id;
		});
	}

	/** Of several notifications nodes ticking at once, one sends a digest; a claim whose node died is taken again. */
	private async claimDigestSend(digestId: number): Promise<boolean> {
		const stale = new Date(Date.now() - this.settings.staleClaimMs);
		const [taken] = await this.host.tables.digests.update(
			{ claimedAt: new Date() },
			{ where: { id: digestId, sentAt: { [Op.is]: null }, [Op.or]: [{ claimedAt: { [Op.is]: null } }, { claimedAt: { [Op.lt]: stale } }] } },
		);
		return taken === 1;
	}

	private async sendDigest(digestId: number, userId: number): Promise<void> {
		const { tables, cipher } = this.host;
		const contact = await this.contactOf(userId);
		const rows = (await tables.notifications.findAll({ where: { digestId }, order: [["id", "ASC"]] })).map((row) => row.get({ plain: true }));
		if (!contact || rows.length === 0) {
			await tables.digests.update({ sentAt: new Date(this.host.clock.now()) }, { where: { id: digestId } });
			return;
		}
		const views = rows.map((row) => notificationView(row, cipher));
		const summary = await this.summarise(userId, views);
		const list = views.map((view) => `- ${view.title}${view.body ? `: ${view.body}` : ""}${view.link ? `\n  ${this.settings.appUrl}${view.link}` : ""}`).join("\n");
		const text = `${summary ? `${summary}\n\n` : ""}${list}\n\n${this.footer()}`;
		try {
			await this.host.mailer.send({ to: contact.email, subject: `Colony: ${views.length} update${views.length === 1 ? "" : "s"} for you`, text, messageId: this.messageId(`digest-${digestId}`) });
			await tables.digests.update({ sentAt: new Date(this.host.clock.now()) }, { where: { id: digestId } });
		} catch (err) {
			// Left unsent: the next tick tries this digest again, with the same Message-ID.
			await tables.digests.update({ claimedAt: null }, { where: { id: digestId } });
			this.host.logger.warn(`The digest ${digestId} could not be mailed: ${(err as Error).message}`);
		}
	}

	/** A few sentences by the AI when a host can answer; the plain list alone otherwise. */
	private async summarise(userId: number, views: NotificationView[]): Promise<string | null> {
		const { broker } = this.host;
		if (!broker.registry.getActionEndpoints("ai.generate")?.hasAvailable()) return null;
		try {
			const session = await broker.call<Session | null, { id: number }>("users.session", { id: userId });
			if (!session) return null;
			const user: SessionUser = { ...session, sessionId: `notifications-digest:${userId}`, tokenId: "", tokenExpiresAt: 0 };
			const prompt = views.map((view, i) => `${i + 1}. ${view.title}${view.body ? ` — ${view.body}` : ""}`).join("\n");
			const answer = await broker.call<AiGenerateAnswer, object>(
				"ai.generate",
				{
					system: "You summarise a person's notifications from their team's collaboration platform in two to four plain sentences. Mention what needs their action first.",
					prompt,
				},
				{ meta: { user }, timeout: this.settings.digestSummaryTimeoutMs, retries: 0 },
			);
			return answer.text.trim() || null;
		} catch (err) {
			this.host.logger.info(`The digest goes out without a summary: ${(err as Error).message}`);
			return null;
		}
	}

	private async sendEmail(row: NotificationRow, view: NotificationView): Promise<Outcome> {
		if (!(await this.claim(row.id, "email"))) return "done";
		const contact = await this.contactOf(row.userId);
		if (!contact) return this.finish(row.id, "email", "skipped", "no address");
		const link = view.link ? `\n\nOpen it: ${this.settings.appUrl}${view.link}` : "";
		try {
			await this.host.mailer.send({ to: contact.email, subject: view.title, text: `${view.body}${link}\n\n${this.footer()}`, messageId: this.messageId(`notification-${row.id}`) });
			return this.finish(row.id, "email", "sent");
		} catch (err) {
			return this.failed(row.id, "email", err as Error);
		}
	}

	private async sendPush(row: NotificationRow, view: NotificationView): Promise<Outcome> {
		const push = this.host.push;
		if (!push) return "done";
		const targets = await this.host.pushTargetsOf(row.userId);
		if (targets.length === 0 || !(await this.claim(row.id, "push"))) return "done";
		const payload = JSON.stringify({ id: view.id, type: view.type, title: view.title, body: view.body, link: view.link });
		let failure: Error | null = null;
		for (const target of targets) {
			try {
				if ((await push.send(target, payload)) === "gone") await this.host.tables.pushSubscriptions.destroy({ where: { id: target.id } });
			} catch (err) {
				failure = err as Error;
			}
		}
		return failure ? this.failed(row.id, "push", failure) : this.finish(row.id, "push", "sent");
	}

	/**
	 * Claims one channel's send of one notification. False when it was sent already, or another worker is on it;
	 * a failed send, or one whose worker died (a claim older than `staleClaimMs`), is claimed again.
	 */
	private async claim(notificationId: number, channel: DeliveryChannel): Promise<boolean> {
		const { deliveries } = this.host.tables;
		try {
			await deliveries.create({ notificationId, channel, status: "sending", attempts: 1 });
			return true;
		} catch (err) {
			if (!(err instanceof UniqueConstraintError)) throw err;
		}
		const existing = (await deliveries.findOne({ where: { notificationId, channel } }))?.get({ plain: true });
		if (!existing || !this.reclaimable(existing)) return false;
		const [taken] = await deliveries.update(
			{ status: "sending", attempts: existing.attempts + 1 },
			{ where: { id: existing.id, status: existing.status, attempts: existing.attempts } },
		);
		return taken === 1;
	}

	private reclaimable(delivery: DeliveryRow): boolean {
		if (delivery.attempts >= this.settings.maxAttempts) return false;
		if (delivery.status === "failed") return true;
		return delivery.status === "sending" && Date.now() - new Date(delivery.updatedAt).getTime() > this.settings.staleClaimMs;
	}

	private async finish(notificationId: number, channel: DeliveryChannel, status: "sent" | "skipped", detail?: string): Promise<Outcome> {
		await this.host.tables.deliveries.update({ status, detail: detail ?? null }, { where: { notificationId, channel } });
		return "done";
	}

	private async failed(notificationId: number, channel: DeliveryChannel, err: Error): Promise<Outcome> {
		await this.host.tables.deliveries.update({ status: "failed", detail: err.message.slice(0, 300) }, { where: { notificationId, channel } });
		this.host.logger.warn(`A ${channel} notification could not be sent: ${err.message}`);
		const delivery = (await this.host.tables.deliveries.findOne({ where: { notificationId, channel } }))?.get({ plain: true });
		return delivery && delivery.attempts < this.settings.maxAttempts ? "retry" : "done";
	}

	private async holdUntil(notificationId: number, time: number): Promise<void> {
		await this.host.tables.notifications.update({ deliverAfter: new Date(time) }, { where: { id: notificationId, state: "pending" } });
	}

	private async gatherForDigest(notificationId: number, dueAt: number): Promise<void> {
		await this.host.tables.notifications.update({ state: "digest", deliverAfter: new Date(dueAt) }, { where: { id: notificationId, state: "pending" } });
	}

	private async setState(notificationId: number, state: NotificationRow["state"]): Promise<void> {
		await this.host.tables.notifications.update({ state, deliverAfter: null }, { where: { id: notificationId, state: "pending" } });
	}

	/** Connected on some gateway (online or away); unknown (shared state unreachable) counts as not connected. */
	private async isConnected(userId: number): Promise<boolean> {
		try {
			const statuses = await this.host.broker.call<Record<number, PresenceStatus>, { ids: number[] }>("api.presenceOf", { ids: [userId] });
			return statuses[userId] === "online" || statuses[userId] === "away";
		} catch {
			return false;
		}
	}

	private contactOf(userId: number): Promise<UserContact | null> {
		return this.host.broker.call<UserContact | null, { id: number }>("users.contact", { id: userId });
	}

	private messageId(key: string): string {
		return `<${key}.${this.host.broker.namespace}@colony>`;
	}

	private footer(): string {
		return `Choose what Colony sends you and when: ${this.settings.appUrl}/settings/notifications`;
	}
}

type Outcome = "done" | "retry";

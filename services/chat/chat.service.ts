import type { Context, ServiceBroker, ServiceSchema } from "moleculer";
import { Op, UniqueConstraintError, type Transaction } from "sequelize";
import { ConflictError, ForbiddenError, NotFoundError } from "../../broker/errors";
import { channelRoom, joinRooms, pushToSockets, userRoom } from "../../broker/realtime";
import { loadSecrets } from "../../lib/config";
import { FieldCipher } from "../../lib/crypto/field-cipher";
import { idParam, PLAIN_TEXT, REACTION } from "../../lib/validation";
import { AiHostsMixin } from "../../mixins/ai-hosts.mixin";
import { createDbMixin, type DbServiceThis, type DbSettings } from "../../mixins/db.mixin";
import type { AssistantJob, ChannelView, ChatMemberEvent, ChatStats, ChatMessageEvent, ChatTypingEvent, MemberRole, MessageView, UnreadView } from "../../types/chat";
import { MAX_MESSAGE_LENGTH } from "../../types/contract";
import type { CallerMeta, SessionUser } from "../../types/users";
import { ASSISTANT_JOBS, ChatAssistant, DEFAULT_ASSISTANT_SETTINGS, type AssistantSettings } from "./assistant";
import { parseMentions } from "./mentions";
import { chatMigrations } from "./migrations";
import { chatStats, directMembers, messageExtras, unreadCounts } from "./queries";
import { defineChatTables, type ChannelRow, type ChatTables, type MemberRow, type MessageRow } from "./tables";
import { channelView, messageView, reactionViews } from "./views";

export interface ChatSettings extends DbSettings {
	assistant: AssistantSettings;
}

/** That a user is in a channel, and as what: no action removes a member or changes a role, so it can be kept. */
type Membership = Pick<MemberRow, "channelId" | "userId" | "role">;

interface ChatState {
	/** Channel rows never change once created (no action renames or removes one), so every send need not read them. */
	knownChannels: Map<number, ChannelRow>;
	/** Memberships found, so a send does not read its sender's membership every time (see Membership). */
	knownMembers: Map<string, Membership>;
	cipher: FieldCipher;
	assistant: ChatAssistant;
}

interface ChatMethods {
	requireChannel(id: number): Promise<ChannelRow>;
	membership(channelId: number, userId: number): Promise<Membership | null>;
	requireReadable(channelId: number, caller: SessionUser): Promise<ChannelRow>;
	requireMember(channelId: number, caller: SessionUser): Promise<{ channel: ChannelRow; member: Membership }>;
	requireMessage(id: number): Promise<MessageRow>;
	findByClientMsgId(userId: number, clientMsgId: string): Promise<MessageRow | null>;
	storeMessage(draft: MessageDraft, mentioned: number[]): Promise<MessageRow>;
	insertMember(channelId: number, userId: number, role: MemberRole, transaction?: Transaction): Promise<void>;
	channelViews(rows: ChannelRow[]): Promise<ChannelView[]>;
	describeChannel(row: ChannelRow, directMemberIds?: number[]): ChannelView;
	sealChannelNames(): Promise<void>;
	messageViews(rows: MessageRow[]): Promise<MessageView[]>;
	seal(channelId: number, text: string): { body: string; keyId: string };
	open(row: MessageRow): string | null;
	mentionedIn(ctx: ChatContext, text: string): Promise<number[]>;
	publish(ctx: Emitter, event: MessageEventName, channel: ChannelRow, message: MessageView): Promise<void>;
	announceMember(ctx: ChatContext, channelId: number, userId: number, addedBy: number): Promise<void>;
	postAs(author: number, channel: ChannelRow, text: string, parentId: number | null, clientMsgId: string): Promise<MessageView>;
}

/** Domain event name → the socket event clients receive (DESIGN §5). */
const SOCKET_EVENTS = {
	"chat.message.created": "chat.message",
	"chat.message.updated": "chat.message.updated",
	"chat.message.deleted": "chat.message.deleted",
} as const;
type MessageEventName = keyof typeof SOCKET_EVENTS;

type ChatContext<P = unknown> = Context<P, CallerMeta>;
/** A context, or the broker for work that no request started (the assistant's jobs). */
type Emitter = Pick<ServiceBroker, "emit" | "broadcast">;

/** A message about to be stored, its text still in the clear. */
interface MessageDraft {
	channelId: number;
	userId: number;
	parentId: number | null;
	text: string;
	clientMsgId: string | null;
}

interface SendParams {
	channelId: number;
	text: string;
	parentId?: number;
	clientMsgId?: string;
}

const KNOWN_CHANNELS_LIMIT = 10_000;
const KNOWN_MEMBERS_LIMIT = 100_000;
const CHANNEL_NAME = /^[a-z0-9][a-z0-9_-]*$/;
const id = idParam;
const messageText = { type: "string", trim: true, min: 1, max: MAX_MESSAGE_LENGTH } as const;

/** Channels, membership, messages with threads, reactions, mentions and read markers (DESIGN §3). */
const ChatService: ServiceSchema<ChatSettings, ChatMethods, ChatState & DbServiceThis<ChatTables>> = {
	name: "chat",
	// It calls ai.*: the AI strategies on its node need the hosts' heartbeats.
	mixins: [createDbMixin({ database: "chat", migrations: chatMigrations, defineTables: defineChatTables }), AiHostsMixin],
	settings: { rest: "/", assistant: DEFAULT_ASSISTANT_SETTINGS },

	actions: {
		createChannel: {
			rest: "POST /channels",
			access: "chat:channel:create",
			idempotent: false,
			params: {
				$$strict: true,
				name: { type: "string", trim: true, lowercase: true, min: 1, max: 80, pattern: CHANNEL_NAME },
				type: { type: "enum", values: ["public", "private"] },
				topic: { type: "string", trim: true, max: 250, pattern: PLAIN_TEXT, optional: true },
			},
			async handler(ctx: ChatContext<{ name: string; type: "public" | "private"; topic?: string }>) {
				const caller = ctx.meta.user;
				let channel: ChannelRow;
				try {
					channel = await this.transaction(async (transaction) => {
						const created = await this.tables.channels.create(
							{
								type: ctx.params.type,
								name: this.cipher.blindIndex(`channel:${ctx.params.name}`),
								nameSealed: this.cipher.encrypt(ctx.params.name, "chat.channel.name"),
								topic: null,
								topicSealed: ctx.params.topic ? this.cipher.encrypt(ctx.params.topic, "chat.channel.topic") : null,
								directKey: null,
								createdBy: caller.id,
							},
							{ transaction },
						);
						const row = created.get({ plain: true });
						await this.insertMember(row.id, caller.id, "owner", transaction);
						return row;
					});
				} catch (err) {
					if (err instanceof UniqueConstraintError) {
						throw new ConflictError(`A channel named '${ctx.params.name}' already exists`, "CHANNEL_EXISTS");
					}
					throw err;
				}
				await this.announceMember(ctx, channel.id, caller.id, caller.id);
				const view = this.describeChannel(channel);
				ctx.emit("chat.channel.created", { channel: view, createdBy: caller.id });
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/v1/channels/${view.id}`;
				return { channel: view };
			},
		},

		getChannel: {
			rest: "GET /channels/:id",
			access: "chat:read",
			socket: true,
			idempotent: true,
			params: { $$strict: true, id },
			async handler(ctx: ChatContext<{ id: number }>) {
				const channel = await this.requireReadable(ctx.params.id, ctx.meta.user);
				return { channel: (await this.channelViews([channel]))[0] };
			},
		},

		listChannels: {
			rest: "GET /channels",
			access: "chat:read",
			socket: true,
			idempotent: true,
			params: { $$strict: true },
			async handler(ctx: ChatContext) {
				const memberships = await this.tables.members.findAll({ where: { userId: ctx.meta.user.id }, attributes: ["channelId"] });
				const joined = new Set(memberships.map((member) => member.get({ plain: true }).channelId));
				const rows = await this.tables.channels.findAll({
					where: { [Op.or]: [{ type: "public" }, { id: { [Op.in]: [...joined] } }] },
					order: [["id", "ASC"]],
				});
				const views = await this.channelViews(rows.map((row) => row.get({ plain: true })));
				return { items: views.map((view) => ({ ...view, member: joined.has(view.id) })) };
			},
		},

		join: {
			rest: "POST /channels/:id/join",
			access: "chat:read",
			socket: true,
			idempotent: true,
			params: { $$strict: true, id },
			async handler(ctx: ChatContext<{ id: number }>) {
				const caller = ctx.meta.user;
				const channel = await this.requireChannel(ctx.params.id);
				if (channel.type !== "public") {
					throw new ForbiddenError("Only public channels can be joined; ask a member to add you", "NOT_A_MEMBER");
				}
				if (!(await this.membership(channel.id, caller.id))) {
					await this.insertMember(channel.id, caller.id, "member");
					await this.announceMember(ctx, channel.id, caller.id, caller.id);
				}
				return { channel: this.describeChannel(channel) };
			},
		},

		addMember: {
			rest: "POST /channels/:id/members",
			access: "chat:write",
			idempotent: true,
			params: { $$strict: true, id, userId: id },
			async handler(ctx: ChatContext<{ id: number; userId: number }>) {
				const caller = ctx.meta.user;
				const { channel } = await this.requireMember(ctx.params.id, caller);
				if (channel.type === "direct") throw new ForbiddenError("Direct conversations stay between two people", "DIRECT_CHANNEL");
				await ctx.call("users.get", { id: ctx.params.userId });
				if (!(await this.membership(channel.id, ctx.params.userId))) {
					await this.insertMember(channel.id, ctx.params.userId, "member");
					await this.announceMember(ctx, channel.id, ctx.params.userId, caller.id);
				}
				return { channel: this.describeChannel(channel) };
			},
		},

		openDirect: {
			rest: "POST /dms",
			access: "chat:write",
			socket: true,
			idempotent: true,
			params: { $$strict: true, userId: id },
			async handler(ctx: ChatContext<{ userId: number }>) {
				const caller = ctx.meta.user;
				const other = ctx.params.userId;
				await ctx.call("users.get", { id: other });
				const people = [...new Set([caller.id, other])].sort((a, b) => a - b);
				const directKey = [caller.id, other].sort((a, b) => a - b).join(":");
				const existing = await this.tables.channels.findOne({ where: { directKey } });
				if (existing) return { channel: (await this.channelViews([existing.get({ plain: true })]))[0] };
				let channel: ChannelRow;
				try {
					channel = await this.transaction(async (transaction) => {
						const created = await this.tables.channels.create(
							{ type: "direct", name: null, topic: null, directKey, createdBy: caller.id },
							{ transaction },
						);
						const row = created.get({ plain: true });
						for (const userId of people) await this.insertMember(row.id, userId, "member", transaction);
						return row;
					});
				} catch (err) {
					// Both people opened the conversation at once: the other request created it.
					if (!(err instanceof UniqueConstraintError)) throw err;
					const winner = await this.tables.channels.findOne({ where: { directKey } });
					if (!winner) throw err;
					return { channel: (await this.channelViews([winner.get({ plain: true })]))[0] };
				}
				for (const userId of people) await this.announceMember(ctx, channel.id, userId, caller.id);
				return { channel: this.describeChannel(channel, people) };
			},
		},

		history: {
			rest: "GET /channels/:channelId/messages",
			access: "chat:read",
			socket: true,
			idempotent: true,
			params: {
				$$strict: true,
				channelId: id,
				before: { ...id, optional: true },
				parentId: { ...id, optional: true },
				limit: { type: "number", integer: true, min: 1, max: 100, convert: true, default: 50 },
			},
			async handler(ctx: ChatContext<{ channelId: number; before?: number; parentId?: number; limit: number }>) {
				await this.requireReadable(ctx.params.channelId, ctx.meta.user);
				const where: Record<string, unknown> = { channelId: ctx.params.channelId };
				if (ctx.params.before) where.id = { [Op.lt]: ctx.params.before };
				if (ctx.params.parentId) where.parentId = ctx.params.parentId;
				const rows = await this.tables.messages.findAll({ where, order: [["id", "DESC"]], limit: ctx.params.limit + 1 });
				const page = rows.slice(0, ctx.params.limit).map((row) => row.get({ plain: true }));
				return {
					items: await this.messageViews(page),
					nextCursor: rows.length > ctx.params.limit ? String(page[page.length - 1].id) : null,
				};
			},
		},

		send: {
			rest: "POST /channels/:channelId/messages",
			access: "chat:write",
			socket: true,
			idempotent: "clientMsgId",
			params: {
				$$strict: true,
				channelId: id,
				text: messageText,
				parentId: { ...id, optional: true },
				clientMsgId: { type: "string", min: 1, max: 64, optional: true },
			},
			async handler(ctx: ChatContext<SendParams>) {
				const caller = ctx.meta.user;
				const { channelId, text, parentId, clientMsgId } = ctx.params;
				const earlier = clientMsgId ? await this.findByClientMsgId(caller.id, clientMsgId) : null;
				if (earlier) {
					// A retry after a lost answer. The first attempt may have died between its write and its push,
					// so push again: clients drop a message id they already have.
					const [message] = await this.messageViews([earlier]);
					await pushToSockets(ctx, { rooms: [channelRoom(earlier.channelId)], event: "chat.message", data: message });
					return { message };
				}
				const { channel } = await this.requireMember(channelId, caller);
				if (parentId && (await this.requireMessage(parentId)).channelId !== channel.id) {
					throw new NotFoundError("The thread is not in this channel", "MESSAGE_NOT_FOUND");
				}
				const mentioned = await this.mentionedIn(ctx, text);
				let row: MessageRow;
				try {
					row = await this.storeMessage({ channelId, userId: caller.id, parentId: parentId ?? null, text, clientMsgId: clientMsgId ?? null }, mentioned);
				} catch (err) {
					// The same clientMsgId arrived twice at once (a retry racing the original): answer with the winner.
					const winner = err instanceof UniqueConstraintError && clientMsgId ? await this.findByClientMsgId(caller.id, clientMsgId) : null;
					if (!winner) throw err;
					return { message: (await this.messageViews([winner]))[0] };
				}
				// The sender has read their own message. Outside the message's transaction, which then holds no lock on
				// the sender's membership row: a marker left behind costs nothing, the next markRead moves it.
				await this.tables.members
					.update(
						{ lastReadMessageId: row.id },
						{ hooks: false, validate: false, where: { channelId, userId: caller.id, lastReadMessageId: { [Op.lt]: row.id } } },
					)
					.catch((err: unknown) => this.logger.warn(`The read marker of user ${caller.id} in channel ${channelId} stayed behind:`, (err as Error).message));
				// A new message has no reactions yet, and its mentions are known: nothing to read back.
				const message = messageView(row, text, mentioned, []);
				await this.publish(ctx, "chat.message.created", channel, message);
				await this.assistant.queueIfAsked(channel, message, caller.id);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/v1/messages/${message.id}`;
				return { message };
			},
		},

		edit: {
			rest: "PATCH /messages/:id",
			access: "chat:write",
			socket: true,
			idempotent: true,
			params: { $$strict: true, id, text: messageText },
			async handler(ctx: ChatContext<{ id: number; text: string }>) {
				const row = await this.requireMessage(ctx.params.id);
				if (row.userId !== ctx.meta.user.id) throw new ForbiddenError("Only the author can edit a message", "NOT_AUTHOR");
				if (row.deletedAt) throw new ConflictError("The message was deleted", "MESSAGE_DELETED");
				const mentioned = await this.mentionedIn(ctx, ctx.params.text);
				const edited = { ...row, ...this.seal(row.channelId, ctx.params.text), editedAt: new Date() };
				await this.transaction(async (transaction) => {
					await this.tables.messages.update(
						{ body: edited.body, keyId: edited.keyId, editedAt: edited.editedAt },
						{ where: { id: row.id }, transaction },
					);
					await this.tables.mentions.destroy({ where: { messageId: row.id }, transaction });
					if (mentioned.length > 0) {
						await this.tables.mentions.bulkCreate(
							mentioned.map((userId) => ({ messageId: row.id, userId, channelId: row.channelId })),
							{ transaction },
						);
					}
				});
				const [message] = await this.messageViews([edited]);
				await this.publish(ctx, "chat.message.updated", await this.requireChannel(row.channelId), message);
				return { message };
			},
		},

		delete: {
			rest: "DELETE /messages/:id",
			access: "chat:write",
			socket: true,
			idempotent: true,
			params: { $$strict: true, id },
			async handler(ctx: ChatContext<{ id: number }>) {
				const caller = ctx.meta.user;
				const row = await this.requireMessage(ctx.params.id);
				const member = await this.membership(row.channelId, caller.id);
				const allowed = row.userId === caller.id || member?.role === "owner" || caller.permissions.includes("chat:admin");
				if (!allowed) {
					throw new ForbiddenError("Only the author, the channel owner or an admin can delete a message", "NOT_AUTHOR");
				}
				if (!row.deletedAt) {
					// The tombstone keeps the message's place in the history; its text, mentions and reactions are gone.
					const tombstone = { ...this.seal(row.channelId, ""), deletedAt: new Date() };
					await this.transaction(async (transaction) => {
						await this.tables.messages.update(tombstone, { where: { id: row.id }, transaction });
						await this.tables.mentions.destroy({ where: { messageId: row.id }, transaction });
						await this.tables.reactions.destroy({ where: { messageId: row.id }, transaction });
					});
					Object.assign(row, tombstone);
				}
				const [message] = await this.messageViews([row]);
				await this.publish(ctx, "chat.message.deleted", await this.requireChannel(row.channelId), message);
				return { message };
			},
		},

		react: {
			rest: "POST /messages/:id/reactions",
			access: "chat:write",
			socket: true,
			// A toggle: a second run takes the reaction back.
			idempotent: false,
			params: { $$strict: true, id, emoji: { type: "string", trim: true, min: 1, max: 64, pattern: REACTION } },
			async handler(ctx: ChatContext<{ id: number; emoji: string }>) {
				const caller = ctx.meta.user;
				const row = await this.requireMessage(ctx.params.id);
				const { channel } = await this.requireMember(row.channelId, caller);
				if (row.deletedAt) throw new ConflictError("The message was deleted", "MESSAGE_DELETED");
				const key = { messageId: row.id, userId: caller.id, emoji: ctx.params.emoji };
				const removed = await this.tables.reactions.destroy({ where: key });
				if (removed === 0) {
					// A double click from two tabs must toggle once, not fail.
					await this.tables.reactions.create(key).catch((err: unknown) => {
						if (!(err instanceof UniqueConstraintError)) throw err;
					});
				}
				const [message] = await this.messageViews([row]);
				await this.publish(ctx, "chat.message.updated", channel, message);
				return { message };
			},
		},

		markRead: {
			rest: "POST /channels/:channelId/read",
			access: "chat:read",
			socket: true,
			idempotent: true,
			params: { $$strict: true, channelId: id, messageId: id },
			async handler(ctx: ChatContext<{ channelId: number; messageId: number }>): Promise<{ items: UnreadView[] }> {
				const caller = ctx.meta.user;
				await this.requireMember(ctx.params.channelId, caller);
				// Read markers only move forward: a late request from another device must not bring unread back.
				await this.tables.members.update(
					{ lastReadMessageId: ctx.params.messageId },
					{ where: { channelId: ctx.params.channelId, userId: caller.id, lastReadMessageId: { [Op.lt]: ctx.params.messageId } } },
				);
				// Only this channel's counts changed: the client keeps the others from `unread`.
				return { items: await unreadCounts(this.database, caller.id, ctx.params.channelId) };
			},
		},

		unread: {
			rest: "GET /channels/unread",
			access: "chat:read",
			socket: true,
			idempotent: true,
			params: { $$strict: true },
			async handler(ctx: ChatContext): Promise<{ items: UnreadView[] }> {
				return { items: await unreadCounts(this.database, ctx.meta.user.id) };
			},
		},

		typing: {
			access: "chat:write",
			socket: true,
			idempotent: true,
			params: { $$strict: true, channelId: id },
			async handler(ctx: ChatContext<{ channelId: number }>) {
				const caller = ctx.meta.user;
				await this.requireMember(ctx.params.channelId, caller);
				const typing: ChatTypingEvent = { channelId: ctx.params.channelId, userId: caller.id, username: caller.username };
				// Ephemeral: pushed to the channel's sockets only, never stored or queued.
				await pushToSockets(ctx, {
					rooms: [channelRoom(ctx.params.channelId)],
					exceptRooms: [userRoom(caller.id)],
					event: "chat.typing",
					data: typing,
				});
				return { ok: true };
			},
		},

		/** For operators (the REPL's `chat-stats`): channels, messages and members; never a name or a text. */
		stats: {
			visibility: "public",
			idempotent: true,
			params: {},
			handler(): Promise<ChatStats> {
				return chatStats(this.tables, Date.now());
			},
		},

		/** For the socket gateway: the channels whose rooms a user's sockets join. */
		channelsOf: {
			visibility: "public",
			idempotent: true,
			params: { userId: id },
			async handler(ctx: Context<{ userId: number }>): Promise<number[]> {
				const rows = await this.tables.members.findAll({ where: { userId: ctx.params.userId }, attributes: ["channelId"] });
				return rows.map((row) => row.get({ plain: true }).channelId);
			},
		},
	},

	methods: {
		async requireChannel(channelId: number) {
			const known = this.knownChannels.get(channelId);
			if (known) return known;
			const channel = (await this.tables.channels.findByPk(channelId))?.get({ plain: true });
			if (!channel) throw new NotFoundError(`Channel ${channelId} not found`, "CHANNEL_NOT_FOUND", { id: channelId });
			if (this.knownChannels.size >= KNOWN_CHANNELS_LIMIT) this.knownChannels.clear();
			this.knownChannels.set(channelId, channel);
			return channel;
		},

		async membership(channelId: number, userId: number) {
			const key = `${channelId}:${userId}`;
			const known = this.knownMembers.get(key);
			if (known) return known;
			const row = await this.tables.members.findOne({ where: { channelId, userId }, attributes: ["channelId", "userId", "role"] });
			if (!row) return null;
			const member = row.get({ plain: true });
			if (this.knownMembers.size >= KNOWN_MEMBERS_LIMIT) this.knownMembers.delete(this.knownMembers.keys().next().value!);
			this.knownMembers.set(key, member);
			return member;
		},

		async requireReadable(channelId: number, caller: SessionUser) {
			const channel = await this.requireChannel(channelId);
			if (channel.type !== "public" && !(await this.membership(channelId, caller.id))) {
				throw new ForbiddenError("You are not a member of this channel", "NOT_A_MEMBER");
			}
			return channel;
		},

		async requireMember(channelId: number, caller: SessionUser) {
			const channel = await this.requireChannel(channelId);
			const member = await this.membership(channelId, caller.id);
			if (!member) throw new ForbiddenError("You are not a member of this channel", "NOT_A_MEMBER");
			return { channel, member };
		},

		async requireMessage(messageId: number) {
			const message = (await this.tables.messages.findByPk(messageId))?.get({ plain: true });
			if (!message) throw new NotFoundError(`Message ${messageId} not found`, "MESSAGE_NOT_FOUND", { id: messageId });
			return message;
		},

		async findByClientMsgId(userId: number, clientMsgId: string) {
			return (await this.tables.messages.findOne({ where: { userId, clientMsgId } }))?.get({ plain: true }) ?? null;
		},

		/** A new message and its mentions, together or not at all; without mentions a single insert. */
		async storeMessage(draft: MessageDraft, mentioned: number[]): Promise<MessageRow> {
			// The parameters were validated already; Sequelize's own hooks and validation cost more than the rest of a
			// send, so the hot path goes without them.
			const insert = async (transaction?: Transaction) => {
				const { text, ...columns } = draft;
				const fast = { transaction, hooks: false, validate: false };
				const created = (await this.tables.messages.create({ ...columns, ...this.seal(draft.channelId, text) }, fast)).get({ plain: true });
				if (mentioned.length > 0) {
					await this.tables.mentions.bulkCreate(mentioned.map((userId) => ({ messageId: created.id, userId, channelId: draft.channelId })), fast);
				}
				return created;
			};
			return mentioned.length > 0 ? this.transaction(insert) : insert();
		},

		async insertMember(channelId: number, userId: number, role: MemberRole, transaction?: Transaction) {
			try {
				await this.tables.members.create({ channelId, userId, role, lastReadMessageId: 0, joinedAt: new Date() }, { transaction });
			} catch (err) {
				// Joined twice at once: the member is there, which is what was asked.
				if (!(err instanceof UniqueConstraintError) || transaction) throw err;
			}
		},

		async channelViews(rows: ChannelRow[]) {
			const people = await directMembers(this.tables, rows.filter((row) => row.type === "direct").map((row) => row.id));
			return rows.map((row) => this.describeChannel(row, people.get(row.id)));
		},

		describeChannel(row: ChannelRow, directMemberIds?: number[]) {
			const name = row.nameSealed ? this.cipher.decrypt(row.nameSealed, "chat.channel.name") : row.name;
			const topic = row.topicSealed ? this.cipher.decrypt(row.topicSealed, "chat.channel.topic") : row.topic;
			return channelView(row, { name: row.type === "direct" ? null : name, topic }, directMemberIds);
		},

		/** Seals the names and topics an older release kept in clear; safe to run on several nodes at once. */
		async sealChannelNames() {
			const clear = await this.tables.channels.findAll({ where: { nameSealed: { [Op.is]: null }, type: { [Op.ne]: "direct" } } });
			for (const row of clear.map((channel) => channel.get({ plain: true }))) {
				if (!row.name) continue;
				await this.tables.channels.update(
					{
						name: this.cipher.blindIndex(`channel:${row.name}`),
						nameSealed: this.cipher.encrypt(row.name, "chat.channel.name"),
						topic: null,
						topicSealed: row.topic ? this.cipher.encrypt(row.topic, "chat.channel.topic") : null,
					},
					{ where: { id: row.id, nameSealed: { [Op.is]: null } } },
				);
			}
			if (clear.length > 0) this.logger.info(`Sealed the names and topics of ${clear.length} channel(s)`);
		},

		async messageViews(rows: MessageRow[]) {
			const { mentions, reactions } = await messageExtras(this.tables, rows.map((row) => row.id));
			return rows.map((row) =>
				messageView(
					row,
					this.open(row),
					mentions.filter((mention) => mention.messageId === row.id).map((mention) => mention.userId),
					reactionViews(reactions.filter((reaction) => reaction.messageId === row.id)),
				),
			);
		},

		seal(channelId: number, text: string) {
			return { body: this.cipher.encrypt(text, `chat.message:${channelId}`), keyId: this.cipher.currentKeyId };
		},

		open(row: MessageRow) {
			return row.deletedAt ? null : this.cipher.decrypt(row.body, `chat.message:${row.channelId}`);
		},

		async mentionedIn(ctx: ChatContext, text: string) {
			const usernames = parseMentions(text);
			if (usernames.length === 0) return [];
			const ids = await ctx.call<Record<string, number>, { usernames: string[] }>("users.resolveUsernames", { usernames });
			return [...new Set(Object.values(ids))];
		},

		async publish(ctx: Emitter, event: MessageEventName, channel: ChannelRow, message: MessageView) {
			const memberIds = channel.type === "direct" && channel.directKey ? channel.directKey.split(":").map(Number) : undefined;
			ctx.emit<ChatMessageEvent>(event, { message, channel: { id: channel.id, type: channel.type, ...(memberIds ? { memberIds } : {}) } });
			await pushToSockets(ctx, { rooms: [channelRoom(channel.id)], event: SOCKET_EVENTS[event], data: message });
		},

		async postAs(author: number, channel: ChannelRow, text: string, parentId: number | null, clientMsgId: string) {
			const row = await this.storeMessage({ channelId: channel.id, userId: author, parentId, text, clientMsgId }, []);
			const message = messageView(row, text, [], []);
			await this.publish(this.broker, "chat.message.created", channel, message);
			return message;
		},

		async announceMember(ctx: ChatContext, channelId: number, userId: number, addedBy: number) {
			ctx.emit<ChatMemberEvent>("chat.member.added", { channelId, userId, addedBy });
			// The new member's open sockets start receiving the channel's events at once.
			await joinRooms(ctx, { room: userRoom(userId), join: [channelRoom(channelId)] });
		},
	},

	channels: {
		[ASSISTANT_JOBS]: {
			group: "chat-assistant",
			// Jobs a chat node works on at once; each mostly waits on an AI host.
			maxInFlight: 32,
			// Only a failure to store the answer brings a job back; the assistant answers inference failures itself.
			maxRetries: 5,
			deadLettering: { enabled: true, queueName: `${ASSISTANT_JOBS}.failed` },
			// A chat node that died mid-job is noticed after 30 s without its keep-alive, and another takes the job.
			nats: { consumerOptions: { config: { ack_wait: 30_000 * 1_000_000 } } },
			handler(job: AssistantJob, queued?: { working?(): void }) {
				return this.assistant.answer(job, queued);
			},
		},
	},

	async started() {
		await this.sealChannelNames();
	},

	created() {
		this.knownChannels = new Map();
		this.knownMembers = new Map();
		const secrets = loadSecrets();
		this.cipher = new FieldCipher(secrets.dataKey, secrets.previousDataKeys, secrets.indexKey);
		this.assistant = new ChatAssistant(this, { ...DEFAULT_ASSISTANT_SETTINGS, ...this.settings.assistant });
	},
};

export default ChatService;

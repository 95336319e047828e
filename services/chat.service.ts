import type { Context, ServiceSchema } from "moleculer";
import { DataTypes, Op, UniqueConstraintError, type Model, type ModelStatic, type Sequelize } from "sequelize";
import { requireCaller } from "../lib/caller";
import { loadSecrets } from "../lib/config";
import { FieldCipher } from "../lib/crypto";
import { ConflictError, ForbiddenError, NotFoundError } from "../lib/errors";
import { parseMentions } from "../lib/mentions";
import { idParam, PRINTABLE } from "../lib/params";
import { channelRoom, joinRooms, pushToSockets, userRoom } from "../lib/realtime";
import { chatMigrations } from "../migrations/chat";
import { createDbMixin, type DbServiceThis, type DbSettings } from "../mixins/db.mixin";
import type {
	ChannelType,
	ChannelView,
	ChatMemberEvent,
	ChatMessageEvent,
	ChatTypingEvent,
	MemberRole,
	MessageView,
	ReactionView,
	UnreadView,
} from "../types/chat";
import type { RequestMeta, SessionUser } from "../types/users";

export type ChatSettings = DbSettings;

interface ChannelRow {
	id: number;
	type: ChannelType;
	name: string | null;
	topic: string | null;
	directKey: string | null;
	createdBy: number;
	createdAt: Date;
	updatedAt: Date;
}

interface MemberRow {
	channelId: number;
	userId: number;
	role: MemberRole;
	lastReadMessageId: number;
	joinedAt: Date;
}

interface MessageRow {
	id: number;
	channelId: number;
	userId: number;
	parentId: number | null;
	body: string;
	keyId: string;
	clientMsgId: string | null;
	editedAt: Date | null;
	deletedAt: Date | null;
	createdAt: Date;
}

interface MentionRow {
	messageId: number;
	userId: number;
	channelId: number;
}

interface ReactionRow {
	messageId: number;
	userId: number;
	emoji: string;
	createdAt: Date;
}

type Table<Row extends object> = ModelStatic<Model<Row, Partial<Row>>>;

interface ChatState {
	channels: Table<ChannelRow>;
	/** Channel rows never change once created (no action renames or removes one), so every send need not read them. */
	knownChannels: Map<number, ChannelRow>;
	members: Table<MemberRow>;
	messages: Table<MessageRow>;
	mentions: Table<MentionRow>;
	reactions: Table<ReactionRow>;
	cipher: FieldCipher;
}

interface ChatMethods {
	requireChannel(id: number): Promise<ChannelRow>;
	membership(channelId: number, userId: number): Promise<MemberRow | null>;
	requireReadable(channelId: number, caller: SessionUser): Promise<ChannelRow>;
	requireMember(channelId: number, caller: SessionUser): Promise<{ channel: ChannelRow; member: MemberRow }>;
	requireMessage(id: number): Promise<MessageRow>;
	addMember(channel: ChannelRow, userId: number, role: MemberRole): Promise<void>;
	channelView(row: ChannelRow): Promise<ChannelView>;
	channelViews(rows: ChannelRow[]): Promise<ChannelView[]>;
	unreadOf(userId: number, memberships: MemberRow[]): Promise<UnreadView[]>;
	messageViews(rows: MessageRow[]): Promise<MessageView[]>;
	messageView(row: MessageRow): Promise<MessageView>;
	seal(channelId: number, text: string): { body: string; keyId: string };
	open(row: MessageRow): string;
	createMessage(ctx: ChatContext, channel: ChannelRow, caller: SessionUser, params: SendParams): Promise<MessageView>;
	toView(row: MessageRow, mentions: number[], reactions: ReactionView[]): MessageView;
	publish(ctx: ChatContext, event: MessageEventName, channel: ChannelRow, message: MessageView): Promise<void>;
	admit(ctx: ChatContext, channel: ChannelRow, userId: number, addedBy: number, role?: MemberRole): Promise<void>;
}

/** Domain event name → the socket event clients receive (DESIGN §5). */
const SOCKET_EVENTS = {
	"chat.message.created": "chat.message",
	"chat.message.updated": "chat.message.updated",
	"chat.message.deleted": "chat.message.deleted",
} as const;
type MessageEventName = keyof typeof SOCKET_EVENTS;

type ChatContext<P = unknown> = Context<P, RequestMeta>;
type ChatThis = DbServiceThis & ChatState & ChatMethods;

interface SendParams {
	channelId: number;
	text: string;
	parentId?: number;
	clientMsgId?: string;
}

export const MAX_MESSAGE_LENGTH = 4_000;
const KNOWN_CHANNELS_LIMIT = 10_000;
const CHANNEL_NAME = /^[a-z0-9][a-z0-9_-]*$/;
const id = idParam;

const CHANNEL_ATTRIBUTES = {
	id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
	type: { type: DataTypes.STRING(16), allowNull: false },
	name: { type: DataTypes.STRING(80), allowNull: true },
	topic: { type: DataTypes.STRING(250), allowNull: true },
	directKey: { type: DataTypes.STRING(40), allowNull: true },
	createdBy: { type: DataTypes.INTEGER, allowNull: false },
};

function defineTables(db: Sequelize): Omit<ChatState, "cipher" | "channels" | "knownChannels"> {
	return {
		members: db.define(
			"channelMember",
			{
				channelId: { type: DataTypes.INTEGER, primaryKey: true },
				userId: { type: DataTypes.INTEGER, primaryKey: true },
				role: { type: DataTypes.STRING(16), allowNull: false },
				lastReadMessageId: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
				joinedAt: { type: DataTypes.DATE, allowNull: false },
			},
			{ tableName: "channel_members", timestamps: false },
		) as Table<MemberRow>,
		messages: db.define(
			"message",
			{
				id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
				channelId: { type: DataTypes.INTEGER, allowNull: false },
				userId: { type: DataTypes.INTEGER, allowNull: false },
				parentId: { type: DataTypes.INTEGER, allowNull: true },
				body: { type: DataTypes.TEXT, allowNull: false },
				keyId: { type: DataTypes.STRING(16), allowNull: false },
				clientMsgId: { type: DataTypes.STRING(64), allowNull: true },
				editedAt: { type: DataTypes.DATE, allowNull: true },
				deletedAt: { type: DataTypes.DATE, allowNull: true },
			},
			{ tableName: "messages", updatedAt: false },
		) as Table<MessageRow>,
		mentions: db.define(
			"messageMention",
			{
				messageId: { type: DataTypes.INTEGER, primaryKey: true },
				userId: { type: DataTypes.INTEGER, primaryKey: true },
				channelId: { type: DataTypes.INTEGER, allowNull: false },
			},
			{ tableName: "message_mentions", timestamps: false },
		) as Table<MentionRow>,
		reactions: db.define(
			"messageReaction",
			{
				messageId: { type: DataTypes.INTEGER, primaryKey: true },
				userId: { type: DataTypes.INTEGER, primaryKey: true },
				emoji: { type: DataTypes.STRING(64), primaryKey: true },
			},
			{ tableName: "message_reactions", updatedAt: false },
		) as Table<ReactionRow>,
	};
}

async function plain<Row extends object>(query: Promise<Model<Row, Partial<Row>>[]>): Promise<Row[]> {
	return (await query).map((row) => row.get({ plain: true }) as Row);
}

async function plainOne<Row extends object>(query: Promise<Model<Row, Partial<Row>> | null>): Promise<Row | null> {
	const row = await query;
	return row ? (row.get({ plain: true }) as Row) : null;
}

function iso(date: Date | null): string | null {
	return date ? new Date(date).toISOString() : null;
}

const ChatService: ServiceSchema<ChatSettings, ChatMethods, DbServiceThis & ChatState> & { model: unknown } = {
	name: "chat",
	mixins: [createDbMixin({ database: "chat", migrations: chatMigrations })],
	settings: {},
	model: { name: "channel", define: CHANNEL_ATTRIBUTES, options: { tableName: "channels" } },

	actions: {
		createChannel: {
			params: {
				$$strict: true,
				name: { type: "string", trim: true, lowercase: true, min: 1, max: 80, pattern: CHANNEL_NAME },
				type: { type: "enum", values: ["public", "private"] },
				topic: { type: "string", trim: true, max: 250, pattern: PRINTABLE, optional: true },
			},
			async handler(ctx: ChatContext<{ name: string; type: "public" | "private"; topic?: string }>) {
				const caller = requireCaller(ctx);
				let channel: ChannelRow;
				try {
					channel = (
						await this.channels.create({ ...ctx.params, topic: ctx.params.topic ?? null, createdBy: caller.id })
					).get({ plain: true }) as ChannelRow;
				} catch (err) {
					if (err instanceof UniqueConstraintError) {
						throw new ConflictError(`A channel named '${ctx.params.name}' already exists`, "CHANNEL_EXISTS");
					}
					throw err;
				}
				await this.admit(ctx, channel, caller.id, caller.id, "owner");
				const view = await this.channelView(channel);
				ctx.emit("chat.channel.created", { channel: view, createdBy: caller.id });
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/v1/channels/${view.id}`;
				return { channel: view };
			},
		},

		getChannel: {
			params: { $$strict: true, id },
			async handler(ctx: ChatContext<{ id: number }>) {
				const caller = requireCaller(ctx);
				const channel = await this.requireReadable(ctx.params.id, caller);
				return { channel: await this.channelView(channel) };
			},
		},

		listChannels: {
			params: { $$strict: true },
			async handler(ctx: ChatContext) {
				const caller = requireCaller(ctx);
				const memberOf = (await plain(this.members.findAll({ where: { userId: caller.id } }))).map((m) => m.channelId);
				const rows = await plain(
					this.channels.findAll({
						where: { [Op.or]: [{ type: "public" }, { id: { [Op.in]: memberOf } }] },
						order: [["id", "ASC"]],
					}),
				);
				const joined = new Set(memberOf);
				const items = (await this.channelViews(rows)).map((view) => ({ ...view, member: joined.has(view.id) }));
				return { items };
			},
		},

		join: {
			params: { $$strict: true, id },
			async handler(ctx: ChatContext<{ id: number }>) {
				const caller = requireCaller(ctx);
				const channel = await this.requireChannel(ctx.params.id);
				if (channel.type !== "public") {
					throw new ForbiddenError("Only public channels can be joined; ask a member to add you", "NOT_A_MEMBER");
				}
				if (!(await this.membership(channel.id, caller.id))) await this.admit(ctx, channel, caller.id, caller.id);
				return { channel: await this.channelView(channel) };
			},
		},

		addMember: {
			params: { $$strict: true, id, userId: id },
			async handler(ctx: ChatContext<{ id: number; userId: number }>) {
				const caller = requireCaller(ctx);
				const { channel } = await this.requireMember(ctx.params.id, caller);
				if (channel.type === "direct") throw new ForbiddenError("Direct conversations stay between two people", "DIRECT_CHANNEL");
				await ctx.call("users.get", { id: ctx.params.userId });
				if (!(await this.membership(channel.id, ctx.params.userId))) {
					await this.admit(ctx, channel, ctx.params.userId, caller.id);
				}
				return { channel: await this.channelView(channel) };
			},
		},

		openDirect: {
			params: { $$strict: true, userId: id },
			async handler(ctx: ChatContext<{ userId: number }>) {
				const caller = requireCaller(ctx);
				const other = ctx.params.userId;
				await ctx.call("users.get", { id: other });
				const directKey = [caller.id, other].sort((a, b) => a - b).join(":");
				let channel = await plainOne(this.channels.findOne({ where: { directKey } }));
				if (!channel) {
					try {
						channel = (
							await this.channels.create({ type: "direct", name: null, topic: null, directKey, createdBy: caller.id })
						).get({ plain: true }) as ChannelRow;
						await this.admit(ctx, channel, caller.id, caller.id);
						if (other !== caller.id) await this.admit(ctx, channel, other, caller.id);
					} catch (err) {
						// Both people opened the conversation at once: the other request created it.
						if (!(err instanceof UniqueConstraintError)) throw err;
						channel = await plainOne(this.channels.findOne({ where: { directKey } }));
						if (!channel) throw err;
					}
				}
				return { channel: await this.channelView(channel) };
			},
		},

		history: {
			params: {
				$$strict: true,
				channelId: id,
				before: { ...id, optional: true },
				parentId: { ...id, optional: true },
				limit: { type: "number", integer: true, min: 1, max: 100, convert: true, default: 50 },
			},
			async handler(ctx: ChatContext<{ channelId: number; before?: number; parentId?: number; limit: number }>) {
				const caller = requireCaller(ctx);
				await this.requireReadable(ctx.params.channelId, caller);
				const where: Record<string, unknown> = { channelId: ctx.params.channelId };
				if (ctx.params.before) where.id = { [Op.lt]: ctx.params.before };
				if (ctx.params.parentId) where.parentId = ctx.params.parentId;
				const rows = await plain(
					this.messages.findAll({ where, order: [["id", "DESC"]], limit: ctx.params.limit + 1 }),
				);
				const page = rows.slice(0, ctx.params.limit);
				return {
					items: await this.messageViews(page),
					nextCursor: rows.length > ctx.params.limit ? String(page[page.length - 1].id) : null,
				};
			},
		},

		send: {
			params: {
				$$strict: true,
				channelId: id,
				text: { type: "string", trim: true, min: 1, max: MAX_MESSAGE_LENGTH },
				parentId: { ...id, optional: true },
				clientMsgId: { type: "string", min: 1, max: 64, optional: true },
			},
			async handler(ctx: ChatContext<SendParams>) {
				const caller = requireCaller(ctx);
				if (ctx.params.clientMsgId) {
					const earlier = await plainOne(
						this.messages.findOne({ where: { userId: caller.id, clientMsgId: ctx.params.clientMsgId } }),
					);
					if (earlier) {
						// A retry after a lost answer. The first attempt may have died between its write and its push,
						// so push again: clients drop a message id they already have.
						const message = await this.messageView(earlier);
						await pushToSockets(ctx, { rooms: [channelRoom(earlier.channelId)], event: "chat.message", data: message });
						return { message };
					}
				}
				const { channel } = await this.requireMember(ctx.params.channelId, caller);
				if (ctx.params.parentId) {
					const parent = await this.requireMessage(ctx.params.parentId);
					if (parent.channelId !== channel.id) {
						throw new NotFoundError("The thread is not in this channel", "MESSAGE_NOT_FOUND");
					}
				}
				const message = await this.createMessage(ctx, channel, caller, ctx.params);
				await this.publish(ctx, "chat.message.created", channel, message);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/v1/messages/${message.id}`;
				return { message };
			},
		},

		edit: {
			params: { $$strict: true, id, text: { type: "string", trim: true, min: 1, max: MAX_MESSAGE_LENGTH } },
			async handler(ctx: ChatContext<{ id: number; text: string }>) {
				const caller = requireCaller(ctx);
				const row = await this.requireMessage(ctx.params.id);
				if (row.userId !== caller.id) throw new ForbiddenError("Only the author can edit a message", "NOT_AUTHOR");
				if (row.deletedAt) throw new ConflictError("The message was deleted", "MESSAGE_DELETED");
				const sealed = this.seal(row.channelId, ctx.params.text);
				const editedAt = new Date();
				await this.messages.update({ ...sealed, editedAt }, { where: { id: row.id } });
				await this.mentions.destroy({ where: { messageId: row.id } });
				const mentioned = await resolveMentions(ctx, ctx.params.text);
				await this.mentions.bulkCreate(mentioned.map((userId) => ({ messageId: row.id, userId, channelId: row.channelId })));
				const message = await this.messageView({ ...row, ...sealed, editedAt });
				await this.publish(ctx, "chat.message.updated", await this.requireChannel(row.channelId), message);
				return { message };
			},
		},

		delete: {
			params: { $$strict: true, id },
			async handler(ctx: ChatContext<{ id: number }>) {
				const caller = requireCaller(ctx);
				const row = await this.requireMessage(ctx.params.id);
				const member = await this.membership(row.channelId, caller.id);
				const allowed = row.userId === caller.id || member?.role === "owner" || caller.permissions.includes("chat:admin");
				if (!allowed) {
					throw new ForbiddenError("Only the author, the channel owner or an admin can delete a message", "NOT_AUTHOR");
				}
				if (!row.deletedAt) {
					// The tombstone keeps the message's place in the history; its text is gone.
					const tombstone = { ...this.seal(row.channelId, ""), deletedAt: new Date() };
					await this.messages.update(tombstone, { where: { id: row.id } });
					await this.mentions.destroy({ where: { messageId: row.id } });
					await this.reactions.destroy({ where: { messageId: row.id } });
					Object.assign(row, tombstone);
				}
				const message = await this.messageView(row);
				await this.publish(ctx, "chat.message.deleted", await this.requireChannel(row.channelId), message);
				return { message };
			},
		},

		react: {
			params: { $$strict: true, id, emoji: { type: "string", trim: true, min: 1, max: 64, pattern: PRINTABLE } },
			async handler(ctx: ChatContext<{ id: number; emoji: string }>) {
				const caller = requireCaller(ctx);
				const row = await this.requireMessage(ctx.params.id);
				const { channel } = await this.requireMember(row.channelId, caller);
				if (row.deletedAt) throw new ConflictError("The message was deleted", "MESSAGE_DELETED");
				const key = { messageId: row.id, userId: caller.id, emoji: ctx.params.emoji };
				const removed = await this.reactions.destroy({ where: key });
				if (removed === 0) {
					// A double click from two tabs must toggle once, not fail.
					await this.reactions.create(key).catch((err: unknown) => {
						if (!(err instanceof UniqueConstraintError)) throw err;
					});
				}
				const message = await this.messageView(row);
				await this.publish(ctx, "chat.message.updated", channel, message);
				return { message };
			},
		},

		markRead: {
			params: { $$strict: true, channelId: id, messageId: id },
			async handler(ctx: ChatContext<{ channelId: number; messageId: number }>) {
				const caller = requireCaller(ctx);
				await this.requireMember(ctx.params.channelId, caller);
				// Read markers only move forward: a late request from another device must not bring unread back.
				await this.members.update(
					{ lastReadMessageId: ctx.params.messageId },
					{ where: { channelId: ctx.params.channelId, userId: caller.id, lastReadMessageId: { [Op.lt]: ctx.params.messageId } } },
				);
				// Only this channel's counts changed: the client keeps the others from `unread`.
				const member = await this.membership(ctx.params.channelId, caller.id);
				return { items: await this.unreadOf(caller.id, member ? [member] : []) };
			},
		},

		unread: {
			params: { $$strict: true },
			async handler(ctx: ChatContext): Promise<{ items: UnreadView[] }> {
				const caller = requireCaller(ctx);
				const memberships = await plain(this.members.findAll({ where: { userId: caller.id }, order: [["channelId", "ASC"]] }));
				return { items: await this.unreadOf(caller.id, memberships) };
			},
		},

		typing: {
			params: { $$strict: true, channelId: id },
			async handler(ctx: ChatContext<{ channelId: number }>) {
				const caller = requireCaller(ctx);
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

		/** For the socket gateway: the channels whose rooms a user's sockets join. */
		channelsOf: {
			visibility: "public",
			params: { userId: id },
			async handler(ctx: ChatContext<{ userId: number }>): Promise<number[]> {
				return (await plain(this.members.findAll({ where: { userId: ctx.params.userId } }))).map((m) => m.channelId);
			},
		},
	},

	methods: {
		async requireChannel(channelId: number) {
			const known = this.knownChannels.get(channelId);
			if (known) return known;
			const channel = await plainOne(this.channels.findByPk(channelId));
			if (!channel) throw new NotFoundError(`Channel ${channelId} not found`, "CHANNEL_NOT_FOUND", { id: channelId });
			if (this.knownChannels.size >= KNOWN_CHANNELS_LIMIT) this.knownChannels.clear();
			this.knownChannels.set(channelId, channel);
			return channel;
		},

		membership(channelId: number, userId: number) {
			return plainOne(this.members.findOne({ where: { channelId, userId } }));
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
			const message = await plainOne(this.messages.findByPk(messageId));
			if (!message) throw new NotFoundError(`Message ${messageId} not found`, "MESSAGE_NOT_FOUND", { id: messageId });
			return message;
		},

		async addMember(channel: ChannelRow, userId: number, role: MemberRole) {
			await this.members
				.create({ channelId: channel.id, userId, role, lastReadMessageId: 0, joinedAt: new Date() })
				.catch((err: unknown) => {
					if (!(err instanceof UniqueConstraintError)) throw err;
				});
		},

		unreadOf(userId: number, memberships: MemberRow[]): Promise<UnreadView[]> {
			return Promise.all(
				memberships.map(async (m) => ({
					channelId: m.channelId,
					unread: await this.messages.count({
						where: {
							channelId: m.channelId,
							id: { [Op.gt]: m.lastReadMessageId },
							userId: { [Op.ne]: userId },
							deletedAt: { [Op.is]: null },
						},
					}),
					mentions: await this.mentions.count({
						where: { channelId: m.channelId, userId, messageId: { [Op.gt]: m.lastReadMessageId } },
					}),
				})),
			);
		},

		async channelView(row: ChannelRow): Promise<ChannelView> {
			return (await this.channelViews([row]))[0];
		},

		async channelViews(rows: ChannelRow[]): Promise<ChannelView[]> {
			// One query for the people of every direct conversation in the list.
			const directIds = rows.filter((row) => row.type === "direct").map((row) => row.id);
			const directMembers = new Map<number, number[]>();
			if (directIds.length > 0) {
				for (const member of await plain(this.members.findAll({ where: { channelId: { [Op.in]: directIds } } }))) {
					directMembers.set(member.channelId, [...(directMembers.get(member.channelId) ?? []), member.userId]);
				}
			}
			return rows.map((row) => {
				const view: ChannelView = {
					id: row.id,
					type: row.type,
					name: row.name,
					topic: row.topic,
					createdBy: row.createdBy,
					createdAt: new Date(row.createdAt).toISOString(),
				};
				if (row.type === "direct") view.memberIds = directMembers.get(row.id) ?? [];
				return view;
			});
		},

		async messageViews(rows: MessageRow[]): Promise<MessageView[]> {
			const ids = rows.map((row) => row.id);
			const [mentions, reactions] = await Promise.all([
				plain(this.mentions.findAll({ where: { messageId: { [Op.in]: ids } } })),
				plain(this.reactions.findAll({ where: { messageId: { [Op.in]: ids } }, order: [["createdAt", "ASC"]] })),
			]);
			return rows.map((row) => {
				const byEmoji = new Map<string, number[]>();
				for (const r of reactions) {
					if (r.messageId === row.id) byEmoji.set(r.emoji, [...(byEmoji.get(r.emoji) ?? []), r.userId]);
				}
				const reactionViews: ReactionView[] = [...byEmoji].map(([emoji, userIds]) => ({ emoji, count: userIds.length, userIds }));
				const mentioned = mentions.filter((m) => m.messageId === row.id).map((m) => m.userId);
				return this.toView(row, mentioned, reactionViews);
			});
		},

		toView(row: MessageRow, mentions: number[], reactions: ReactionView[]): MessageView {
			return {
				id: row.id,
				channelId: row.channelId,
				userId: row.userId,
				parentId: row.parentId,
				text: row.deletedAt ? null : this.open(row),
				mentions,
				reactions,
				clientMsgId: row.clientMsgId,
				editedAt: iso(row.editedAt),
				deletedAt: iso(row.deletedAt),
				createdAt: new Date(row.createdAt).toISOString(),
			};
		},

		async messageView(row: MessageRow): Promise<MessageView> {
			return (await this.messageViews([row]))[0];
		},

		seal(channelId: number, text: string) {
			return { body: this.cipher.encrypt(text, `chat.message:${channelId}`), keyId: this.cipher.currentKeyId };
		},

		open(row: MessageRow): string {
			return this.cipher.decrypt(row.body, `chat.message:${row.channelId}`);
		},

		async publish(ctx: ChatContext, event: MessageEventName, channel: ChannelRow, message: MessageView) {
			ctx.emit<ChatMessageEvent>(event, { message, channel: { id: channel.id, type: channel.type } });
			await pushToSockets(ctx, { rooms: [channelRoom(channel.id)], event: SOCKET_EVENTS[event], data: message });
		},

		async admit(ctx: ChatContext, channel: ChannelRow, userId: number, addedBy: number, role: MemberRole = "member") {
			await this.addMember(channel, userId, role);
			ctx.emit<ChatMemberEvent>("chat.member.added", { channelId: channel.id, userId, addedBy });
			// The new member's open sockets start receiving the channel's events at once.
			await joinRooms(ctx, { room: userRoom(userId), join: [channelRoom(channel.id)] });
		},

		async createMessage(ctx: ChatContext, channel: ChannelRow, caller: SessionUser, params: SendParams) {
			let row: MessageRow;
			try {
				row = (
					await this.messages.create({
						channelId: channel.id,
						userId: caller.id,
						parentId: params.parentId ?? null,
						...this.seal(channel.id, params.text),
						clientMsgId: params.clientMsgId ?? null,
					})
				).get({ plain: true }) as MessageRow;
			} catch (err) {
				// The same clientMsgId arrived twice at once (a retry racing the original): answer with the winner.
				if (!(err instanceof UniqueConstraintError) || !params.clientMsgId) throw err;
				const earlier = await plainOne(this.messages.findOne({ where: { userId: caller.id, clientMsgId: params.clientMsgId } }));
				if (!earlier) throw err;
				return this.messageView(earlier);
			}
			const mentioned = await resolveMentions(ctx, params.text);
			if (mentioned.length > 0) {
				await this.mentions.bulkCreate(mentioned.map((userId) => ({ messageId: row.id, userId, channelId: channel.id })));
			}
			// The sender has read their own message.
			await this.members.update(
				{ lastReadMessageId: row.id },
				{ where: { channelId: channel.id, userId: caller.id, lastReadMessageId: { [Op.lt]: row.id } } },
			);
			// A new message has no reactions yet, and its mentions are known: no need to read them back.
			return this.toView(row, mentioned, []);
		},
	},

	created() {
		this.knownChannels = new Map();
		const secrets = loadSecrets();
		this.cipher = new FieldCipher(secrets.dataKey, secrets.previousDataKeys, secrets.indexKey);
	},

	started() {
		const self = this as unknown as ChatThis & { model: Table<ChannelRow> };
		self.channels = self.model;
		Object.assign(self, defineTables(self.database));
	},
};

async function resolveMentions(ctx: ChatContext, text: string): Promise<number[]> {
	const usernames = parseMentions(text);
	if (usernames.length === 0) return [];
	const ids = await ctx.call<Record<string, number>, { usernames: string[] }>("users.resolveUsernames", { usernames });
	return [...new Set(Object.values(ids))];
}

export default ChatService;

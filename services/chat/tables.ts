import { DataTypes, type Model, type ModelStatic, type Optional, type Sequelize } from "sequelize";
import type { ChannelType, MemberRole } from "../../types/chat";

export interface ChannelRow {
	id: number;
	type: ChannelType;
	/** A keyed hash of the name (unique, unreadable); null for direct channels. */
	name: string | null;
	/** Left null: the topic is sealed in `topicSealed` (older releases kept it here in clear). */
	topic: string | null;
	nameSealed: string | null;
	topicSealed: string | null;
	/** `<lower user id>:<higher user id>` for direct channels, so a pair has exactly one. */
	directKey: string | null;
	createdBy: number;
	createdAt: Date;
	updatedAt: Date;
}

export interface MemberRow {
	channelId: number;
	userId: number;
	role: MemberRole;
	lastReadMessageId: number;
	joinedAt: Date;
}

export interface MessageRow {
	id: number;
	channelId: number;
	userId: number;
	parentId: number | null;
	/** AES-256-GCM sealed text, the channel id as associated data. */
	body: string;
	keyId: string;
	clientMsgId: string | null;
	editedAt: Date | null;
	deletedAt: Date | null;
	createdAt: Date;
}

export interface MentionRow {
	messageId: number;
	userId: number;
	channelId: number;
}

export interface ReactionRow {
	messageId: number;
	userId: number;
	emoji: string;
	createdAt: Date;
}

type ChannelModel = Model<ChannelRow, Optional<ChannelRow, "id" | "nameSealed" | "topicSealed" | "createdAt" | "updatedAt">>;
type MemberModel = Model<MemberRow, MemberRow>;
type MessageModel = Model<MessageRow, Optional<MessageRow, "id" | "editedAt" | "deletedAt" | "createdAt">>;
type MentionModel = Model<MentionRow, MentionRow>;
type ReactionModel = Model<ReactionRow, Optional<ReactionRow, "createdAt">>;

export interface ChatTables {
	channels: ModelStatic<ChannelModel>;
	members: ModelStatic<MemberModel>;
	messages: ModelStatic<MessageModel>;
	mentions: ModelStatic<MentionModel>;
	reactions: ModelStatic<ReactionModel>;
}

export function defineChatTables(db: Sequelize): ChatTables {
	return {
		channels: db.define<ChannelModel, Omit<ChannelRow, "createdAt" | "updatedAt">>(
			"channel",
			{
				id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
				type: { type: DataTypes.STRING(16), allowNull: false },
				name: { type: DataTypes.STRING(80), allowNull: true },
				topic: { type: DataTypes.STRING(250), allowNull: true },
				nameSealed: { type: DataTypes.TEXT, allowNull: true },
				topicSealed: { type: DataTypes.TEXT, allowNull: true },
				directKey: { type: DataTypes.STRING(40), allowNull: true },
				createdBy: { type: DataTypes.INTEGER, allowNull: false },
			},
			{ tableName: "channels" },
		),
		members: db.define<MemberModel>(
			"channelMember",
			{
				channelId: { type: DataTypes.INTEGER, primaryKey: true },
				userId: { type: DataTypes.INTEGER, primaryKey: true },
				role: { type: DataTypes.STRING(16), allowNull: false },
				lastReadMessageId: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
				joinedAt: { type: DataTypes.DATE, allowNull: false },
			},
			{ tableName: "channel_members", timestamps: false },
		),
		messages: db.define<MessageModel, Omit<MessageRow, "createdAt">>(
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
		),
		mentions: db.define<MentionModel>(
			"messageMention",
			{
				messageId: { type: DataTypes.INTEGER, primaryKey: true },
				userId: { type: DataTypes.INTEGER, primaryKey: true },
				channelId: { type: DataTypes.INTEGER, allowNull: false },
			},
			{ tableName: "message_mentions", timestamps: false },
		),
		reactions: db.define<ReactionModel, Omit<ReactionRow, "createdAt">>(
			"messageReaction",
			{
				messageId: { type: DataTypes.INTEGER, primaryKey: true },
				userId: { type: DataTypes.INTEGER, primaryKey: true },
				emoji: { type: DataTypes.STRING(64), primaryKey: true },
			},
			{ tableName: "message_reactions", updatedAt: false },
		),
	};
}

import { DataTypes, type QueryInterface } from "sequelize";
import type { Migration } from "../../../lib/db/migrate";

const migration: Migration = {
	name: "0001-create-chat",
	async up(queryInterface: QueryInterface) {
		await queryInterface.createTable("channels", {
			id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
			type: { type: DataTypes.STRING(16), allowNull: false },
			name: { type: DataTypes.STRING(80), allowNull: true },
			topic: { type: DataTypes.STRING(250), allowNull: true },
			// "<lower user id>:<higher user id>" for direct channels, so a pair has exactly one.
			directKey: { type: DataTypes.STRING(40), allowNull: true, unique: true },
			createdBy: { type: DataTypes.INTEGER, allowNull: false },
			createdAt: { type: DataTypes.DATE, allowNull: false },
			updatedAt: { type: DataTypes.DATE, allowNull: false },
		});
		await queryInterface.addIndex("channels", ["name"], { unique: true, name: "channels_name_unique" });

		await queryInterface.createTable("channel_members", {
			channelId: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true },
			userId: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true },
			role: { type: DataTypes.STRING(16), allowNull: false },
			lastReadMessageId: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
			joinedAt: { type: DataTypes.DATE, allowNull: false },
		});
		await queryInterface.addIndex("channel_members", ["userId"]);

		await queryInterface.createTable("messages", {
			id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
			channelId: { type: DataTypes.INTEGER, allowNull: false },
			userId: { type: DataTypes.INTEGER, allowNull: false },
			parentId: { type: DataTypes.INTEGER, allowNull: true },
			body: { type: DataTypes.TEXT, allowNull: false },
			keyId: { type: DataTypes.STRING(16), allowNull: false },
			clientMsgId: { type: DataTypes.STRING(64), allowNull: true },
			editedAt: { type: DataTypes.DATE, allowNull: true },
			deletedAt: { type: DataTypes.DATE, allowNull: true },
			createdAt: { type: DataTypes.DATE, allowNull: false },
		});
		await queryInterface.addIndex("messages", ["channelId", "id"]);
		await queryInterface.addIndex("messages", ["parentId"]);
		await queryInterface.addIndex("messages", ["userId", "clientMsgId"], { unique: true, name: "messages_client_msg_unique" });

		await queryInterface.createTable("message_mentions", {
			messageId: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true },
			userId: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true },
			channelId: { type: DataTypes.INTEGER, allowNull: false },
		});
		await queryInterface.addIndex("message_mentions", ["userId", "channelId", "messageId"]);

		await queryInterface.createTable("message_reactions", {
			messageId: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true },
			userId: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true },
			emoji: { type: DataTypes.STRING(64), allowNull: false, primaryKey: true },
			createdAt: { type: DataTypes.DATE, allowNull: false },
		});
	},
	async down(queryInterface: QueryInterface) {
		for (const table of ["message_reactions", "message_mentions", "messages", "channel_members", "channels"]) {
			await queryInterface.dropTable(table);
		}
	},
};

export default migration;

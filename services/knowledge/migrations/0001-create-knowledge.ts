import { DataTypes, type QueryInterface } from "sequelize";
import type { Migration } from "../../../lib/db/migrate";

const migration: Migration = {
	name: "0001-create-knowledge",
	async up(queryInterface: QueryInterface) {
		// A sealed document can be far larger than a TEXT column of MySQL (64 KB); SQLite's TEXT has no size.
		const longText = queryInterface.sequelize.getDialect() === "sqlite" ? DataTypes.TEXT : DataTypes.TEXT("long");
		await queryInterface.createTable("knowledge_documents", {
			id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
			titleSealed: { type: DataTypes.TEXT, allowNull: false },
			textSealed: { type: longText, allowNull: false },
			keyId: { type: DataTypes.STRING(16), allowNull: false },
			channelId: { type: DataTypes.INTEGER, allowNull: true },
			chunkCount: { type: DataTypes.INTEGER, allowNull: false },
			createdBy: { type: DataTypes.INTEGER, allowNull: false },
			createdAt: { type: DataTypes.DATE, allowNull: false },
			updatedAt: { type: DataTypes.DATE, allowNull: false },
		});
		await queryInterface.addIndex("knowledge_documents", ["channelId", "id"]);

		await queryInterface.createTable("knowledge_chunks", {
			id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
			source: { type: DataTypes.STRING(16), allowNull: false },
			documentId: { type: DataTypes.INTEGER, allowNull: true },
			channelId: { type: DataTypes.INTEGER, allowNull: true },
			messageId: { type: DataTypes.INTEGER, allowNull: true },
			position: { type: DataTypes.INTEGER, allowNull: false },
			body: { type: DataTypes.TEXT, allowNull: false },
			headingsSealed: { type: DataTypes.TEXT, allowNull: true },
			digest: { type: DataTypes.STRING(64), allowNull: false },
			keyId: { type: DataTypes.STRING(16), allowNull: false },
			model: { type: DataTypes.STRING(200), allowNull: false },
			dimension: { type: DataTypes.INTEGER, allowNull: false },
			// 4 bytes per dimension: 3 KB for 768, within a MySQL BLOB up to 16,384 dimensions.
			vector: { type: DataTypes.BLOB, allowNull: false },
			createdAt: { type: DataTypes.DATE, allowNull: false },
		});
		await queryInterface.addIndex("knowledge_chunks", ["documentId", "position"]);
		// One chunk per indexed chat message (documents' chunks have none: NULLs do not collide).
		await queryInterface.addIndex("knowledge_chunks", ["messageId"], { unique: true, name: "knowledge_chunks_message_unique" });
	},
	async down(queryInterface: QueryInterface) {
		await queryInterface.dropTable("knowledge_chunks");
		await queryInterface.dropTable("knowledge_documents");
	},
};

export default migration;

import { DataTypes, type QueryInterface } from "sequelize";
import type { Migration } from "../../../lib/db/migrate";

const migration: Migration = {
	name: "0001-create-users",
	async up(queryInterface: QueryInterface) {
		await queryInterface.createTable("users", {
			id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
			username: { type: DataTypes.STRING(32), allowNull: false, unique: true },
			displayName: { type: DataTypes.STRING(64), allowNull: false },
			emailCiphertext: { type: DataTypes.STRING(512), allowNull: false },
			emailIndex: { type: DataTypes.STRING(64), allowNull: false, unique: true },
			passwordHash: { type: DataTypes.STRING(255), allowNull: false },
			roles: { type: DataTypes.STRING(64), allowNull: false },
			createdAt: { type: DataTypes.DATE, allowNull: false },
			updatedAt: { type: DataTypes.DATE, allowNull: false },
		});
		await queryInterface.createTable("refresh_tokens", {
			id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
			userId: { type: DataTypes.INTEGER, allowNull: false },
			familyId: { type: DataTypes.STRING(36), allowNull: false },
			tokenHash: { type: DataTypes.STRING(64), allowNull: false, unique: true },
			expiresAt: { type: DataTypes.DATE, allowNull: false },
			usedAt: { type: DataTypes.DATE, allowNull: true },
			revokedAt: { type: DataTypes.DATE, allowNull: true },
			createdAt: { type: DataTypes.DATE, allowNull: false },
		});
		await queryInterface.addIndex("refresh_tokens", ["familyId"]);
		await queryInterface.addIndex("refresh_tokens", ["userId"]);
	},
	async down(queryInterface: QueryInterface) {
		await queryInterface.dropTable("refresh_tokens");
		await queryInterface.dropTable("users");
	},
};

export default migration;

import { DataTypes, type QueryInterface } from "sequelize";
import type { Migration } from "../../../lib/db/migrate";

/**
 * Ended sessions (logout, a reused refresh token), kept in the database rather than only in Redis, so a revoked
 * access token stays revoked across restarts, without Redis, and can be read by every gateway when it starts.
 */
const migration: Migration = {
	name: "0004-session-revocations",
	async up(queryInterface: QueryInterface) {
		await queryInterface.createTable("session_revocations", {
			id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
			sessionId: { type: DataTypes.STRING(64), allowNull: false },
			userId: { type: DataTypes.INTEGER, allowNull: false },
			expiresAt: { type: DataTypes.DATE, allowNull: false },
			reason: { type: DataTypes.STRING(200), allowNull: false },
			createdAt: { type: DataTypes.DATE, allowNull: false },
		});
		await queryInterface.addIndex("session_revocations", ["sessionId"]);
		await queryInterface.addIndex("session_revocations", ["expiresAt"]);
	},
	async down(queryInterface: QueryInterface) {
		await queryInterface.dropTable("session_revocations");
	},
};

export default migration;

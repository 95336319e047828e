import { DataTypes, type QueryInterface } from "sequelize";
import type { Migration } from "../../../lib/db/migrate";

/** What each role may do with the AI engine (models, requests per minute, queue), set by admins. */
const migration: Migration = {
	name: "0006-ai-policies",
	async up(queryInterface: QueryInterface) {
		await queryInterface.createTable("ai_policies", {
			role: { type: DataTypes.STRING(16), allowNull: false, primaryKey: true },
			policy: { type: DataTypes.TEXT, allowNull: false },
			updatedBy: { type: DataTypes.INTEGER, allowNull: false },
			updatedAt: { type: DataTypes.DATE, allowNull: false },
		});
	},
	async down(queryInterface: QueryInterface) {
		await queryInterface.dropTable("ai_policies");
	},
};

export default migration;

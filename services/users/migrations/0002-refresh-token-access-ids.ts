import { DataTypes, type QueryInterface } from "sequelize";
import type { Migration } from "../../../lib/db/migrate";

/** Remembers the access token issued with each refresh token, so revoking a family can revoke those too. */
const migration: Migration = {
	name: "0002-refresh-token-access-ids",
	async up(queryInterface: QueryInterface) {
		await queryInterface.addColumn("refresh_tokens", "accessTokenId", { type: DataTypes.STRING(36), allowNull: true });
		await queryInterface.addColumn("refresh_tokens", "accessExpiresAt", { type: DataTypes.DATE, allowNull: true });
	},
	async down(queryInterface: QueryInterface) {
		await queryInterface.removeColumn("refresh_tokens", "accessExpiresAt");
		await queryInterface.removeColumn("refresh_tokens", "accessTokenId");
	},
};

export default migration;

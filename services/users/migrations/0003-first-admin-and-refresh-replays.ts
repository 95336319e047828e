import { DataTypes, QueryTypes, type QueryInterface } from "sequelize";
import type { Migration } from "../../../lib/db/migrate";

/**
 * `first_admin`: one row, claimed by the first account ever registered, so two first registrations racing cannot
 * both become admin. `refresh_tokens.claimRequestId` and `successorSealed`: a refresh retried with the same
 * request id gets the answer it lost instead of being taken for a stolen token.
 */
const migration: Migration = {
	name: "0003-first-admin-and-refresh-replays",
	async up(queryInterface: QueryInterface) {
		await queryInterface.createTable("first_admin", {
			id: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true },
			userId: { type: DataTypes.INTEGER, allowNull: false },
		});
		const users = queryInterface.quoteIdentifier("users");
		const [first] = await queryInterface.sequelize.query<{ id: number | null }>(`SELECT MIN(${queryInterface.quoteIdentifier("id")}) AS ${queryInterface.quoteIdentifier("id")} FROM ${users}`, {
			type: QueryTypes.SELECT,
		});
		if (first?.id != null) await queryInterface.bulkInsert("first_admin", [{ id: 1, userId: first.id }]);
		await queryInterface.addColumn("refresh_tokens", "claimRequestId", { type: DataTypes.STRING(128), allowNull: true });
		await queryInterface.addColumn("refresh_tokens", "successorSealed", { type: DataTypes.TEXT, allowNull: true });
	},
	async down(queryInterface: QueryInterface) {
		await queryInterface.removeColumn("refresh_tokens", "successorSealed");
		await queryInterface.removeColumn("refresh_tokens", "claimRequestId");
		await queryInterface.dropTable("first_admin");
	},
};

export default migration;

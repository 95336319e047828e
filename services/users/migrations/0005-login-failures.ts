import { DataTypes, type QueryInterface } from "sequelize";
import type { Migration } from "../../../lib/db/migrate";

/** Failed sign-ins per account, kept with the account so every users replica throttles the same guesser. */
const migration: Migration = {
	name: "0005-login-failures",
	async up(queryInterface: QueryInterface) {
		await queryInterface.addColumn("users", "failedLogins", { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 });
		await queryInterface.addColumn("users", "lastFailedLoginAt", { type: DataTypes.DATE, allowNull: true });
		await queryInterface.addColumn("users", "loginBlockedUntil", { type: DataTypes.DATE, allowNull: true });
	},
	async down(queryInterface: QueryInterface) {
		await queryInterface.removeColumn("users", "loginBlockedUntil");
		await queryInterface.removeColumn("users", "lastFailedLoginAt");
		await queryInterface.removeColumn("users", "failedLogins");
	},
};

export default migration;

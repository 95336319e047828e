import { DataTypes, type QueryInterface } from "sequelize";
import type { Migration } from "../../../lib/db/migrate";

/**
 * Channel names and topics sealed like message bodies. `name` keeps a keyed hash of the name, so names stay
 * unique without being readable; the rows of an older release are sealed by the chat service when it starts.
 */
const migration: Migration = {
	name: "0002-sealed-channel-names",
	async up(queryInterface: QueryInterface) {
		await queryInterface.addColumn("channels", "nameSealed", { type: DataTypes.TEXT, allowNull: true });
		await queryInterface.addColumn("channels", "topicSealed", { type: DataTypes.TEXT, allowNull: true });
		await queryInterface.changeColumn("channels", "name", { type: DataTypes.STRING(80), allowNull: true });
	},
	async down(queryInterface: QueryInterface) {
		await queryInterface.removeColumn("channels", "topicSealed");
		await queryInterface.removeColumn("channels", "nameSealed");
	},
};

export default migration;

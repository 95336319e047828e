import { DataTypes, type QueryInterface } from "sequelize";
import type { Migration } from "../../../lib/db/migrate";

const migration: Migration = {
	name: "0001-create-notifications",
	async up(queryInterface: QueryInterface) {
		const timestamps = {
			createdAt: { type: DataTypes.DATE, allowNull: false },
			updatedAt: { type: DataTypes.DATE, allowNull: false },
		};
		await queryInterface.createTable("notifications", {
			id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
			userId: { type: DataTypes.INTEGER, allowNull: false },
			type: { type: DataTypes.STRING(32), allowNull: false },
			priority: { type: DataTypes.STRING(16), allowNull: false },
			titleSealed: { type: DataTypes.TEXT, allowNull: false },
			bodySealed: { type: DataTypes.TEXT, allowNull: false },
			link: { type: DataTypes.STRING(300), allowNull: true },
			actorId: { type: DataTypes.INTEGER, allowNull: true },
			sourceKey: { type: DataTypes.STRING(120), allowNull: false },
			state: { type: DataTypes.STRING(16), allowNull: false },
			deliverAfter: { type: DataTypes.DATE, allowNull: true },
			digestId: { type: DataTypes.INTEGER, allowNull: true },
			readAt: { type: DataTypes.DATE, allowNull: true },
			...timestamps,
		});
		await queryInterface.addIndex("notifications", ["userId", "sourceKey"], { unique: true, name: "notifications_source_unique" });
		await queryInterface.addIndex("notifications", ["userId", "id"]);
		await queryInterface.addIndex("notifications", ["state", "deliverAfter"]);

		await queryInterface.createTable("notification_deliveries", {
			id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
			notificationId: { type: DataTypes.INTEGER, allowNull: false },
			channel: { type: DataTypes.STRING(16), allowNull: false },
			status: { type: DataTypes.STRING(16), allowNull: false },
			attempts: { type: DataTypes.INTEGER, allowNull: false },
			detail: { type: DataTypes.STRING(300), allowNull: true },
			...timestamps,
		});
		await queryInterface.addIndex("notification_deliveries", ["notificationId", "channel"], { unique: true, name: "notification_deliveries_unique" });

		await queryInterface.createTable("notification_digests", {
			id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
			userId: { type: DataTypes.INTEGER, allowNull: false },
			count: { type: DataTypes.INTEGER, allowNull: false },
			sentAt: { type: DataTypes.DATE, allowNull: true },
			claimedAt: { type: DataTypes.DATE, allowNull: true },
			createdAt: { type: DataTypes.DATE, allowNull: false },
		});

		await queryInterface.createTable("notification_preferences", {
			userId: { type: DataTypes.INTEGER, primaryKey: true },
			timezone: { type: DataTypes.STRING(64), allowNull: false },
			quietStart: { type: DataTypes.STRING(5), allowNull: true },
			quietEnd: { type: DataTypes.STRING(5), allowNull: true },
			digestEnabled: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
			digestWindowMinutes: { type: DataTypes.INTEGER, allowNull: false },
			channels: { type: DataTypes.TEXT, allowNull: false },
			...timestamps,
		});

		await queryInterface.createTable("push_subscriptions", {
			id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
			userId: { type: DataTypes.INTEGER, allowNull: false },
			endpointIndex: { type: DataTypes.STRING(64), allowNull: false },
			endpointSealed: { type: DataTypes.TEXT, allowNull: false },
			keysSealed: { type: DataTypes.TEXT, allowNull: false },
			createdAt: { type: DataTypes.DATE, allowNull: false },
		});
		await queryInterface.addIndex("push_subscriptions", ["endpointIndex"], { unique: true, name: "push_subscriptions_endpoint_unique" });
		await queryInterface.addIndex("push_subscriptions", ["userId"]);
	},
	async down(queryInterface: QueryInterface) {
		for (const table of ["push_subscriptions", "notification_preferences", "notification_digests", "notification_deliveries", "notifications"]) {
			await queryInterface.dropTable(table);
		}
	},
};

export default migration;

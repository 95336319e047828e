import { DataTypes, type QueryInterface } from "sequelize";
import type { Migration } from "../../../lib/db/migrate";

const migration: Migration = {
	name: "0001-create-tasks",
	async up(queryInterface: QueryInterface) {
		await queryInterface.createTable("projects", {
			id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
			name: { type: DataTypes.STRING(120), allowNull: false },
			description: { type: DataTypes.TEXT, allowNull: true },
			workflow: { type: DataTypes.TEXT, allowNull: false },
			autoApplyTriage: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
			createdBy: { type: DataTypes.INTEGER, allowNull: false },
			createdAt: { type: DataTypes.DATE, allowNull: false },
			updatedAt: { type: DataTypes.DATE, allowNull: false },
		});

		await queryInterface.createTable("project_members", {
			projectId: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true },
			userId: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true },
			role: { type: DataTypes.STRING(16), allowNull: false },
			joinedAt: { type: DataTypes.DATE, allowNull: false },
		});
		await queryInterface.addIndex("project_members", ["userId"]);

		await queryInterface.createTable("tasks", {
			id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
			projectId: { type: DataTypes.INTEGER, allowNull: false },
			title: { type: DataTypes.STRING(200), allowNull: false },
			description: { type: DataTypes.TEXT, allowNull: true },
			status: { type: DataTypes.STRING(40), allowNull: false },
			priority: { type: DataTypes.STRING(16), allowNull: false },
			assigneeId: { type: DataTypes.INTEGER, allowNull: true },
			labels: { type: DataTypes.TEXT, allowNull: false },
			// Milliseconds kept: a due date reads back as it was set, on MariaDB as on SQLite.
			dueDate: { type: DataTypes.DATE(3), allowNull: true },
			dueNotifiedFor: { type: DataTypes.DATE(3), allowNull: true },
			version: { type: DataTypes.INTEGER, allowNull: false },
			createdBy: { type: DataTypes.INTEGER, allowNull: false },
			triageStatus: { type: DataTypes.STRING(16), allowNull: true },
			triage: { type: DataTypes.TEXT, allowNull: true },
			triageQueuedAt: { type: DataTypes.DATE, allowNull: true },
			// 4 bytes per dimension: 3 KB for 768, within a MySQL BLOB up to 16,384 dimensions.
			embedding: { type: DataTypes.BLOB, allowNull: true },
			embeddingModel: { type: DataTypes.STRING(200), allowNull: true },
			createdAt: { type: DataTypes.DATE, allowNull: false },
			updatedAt: { type: DataTypes.DATE, allowNull: false },
			deletedAt: { type: DataTypes.DATE, allowNull: true },
		});
		await queryInterface.addIndex("tasks", ["projectId", "id"]);
		await queryInterface.addIndex("tasks", ["assigneeId"]);
		await queryInterface.addIndex("tasks", ["dueDate"]);
		await queryInterface.addIndex("tasks", ["triageStatus"]);

		await queryInterface.createTable("task_labels", {
			taskId: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true },
			label: { type: DataTypes.STRING(50), allowNull: false, primaryKey: true },
			projectId: { type: DataTypes.INTEGER, allowNull: false },
		});
		await queryInterface.addIndex("task_labels", ["projectId", "label", "taskId"]);

		await queryInterface.createTable("task_comments", {
			id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
			taskId: { type: DataTypes.INTEGER, allowNull: false },
			userId: { type: DataTypes.INTEGER, allowNull: false },
			text: { type: DataTypes.TEXT, allowNull: false },
			createdAt: { type: DataTypes.DATE, allowNull: false },
		});
		await queryInterface.addIndex("task_comments", ["taskId", "id"]);

		await queryInterface.createTable("task_activity", {
			id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
			taskId: { type: DataTypes.INTEGER, allowNull: false },
			projectId: { type: DataTypes.INTEGER, allowNull: false },
			actorId: { type: DataTypes.INTEGER, allowNull: true },
			action: { type: DataTypes.STRING(16), allowNull: false },
			before: { type: DataTypes.TEXT, allowNull: true },
			after: { type: DataTypes.TEXT, allowNull: true },
			createdAt: { type: DataTypes.DATE, allowNull: false },
		});
		await queryInterface.addIndex("task_activity", ["taskId", "id"]);

		await queryInterface.createTable("task_watchers", {
			taskId: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true },
			userId: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true },
			watching: { type: DataTypes.BOOLEAN, allowNull: false },
		});
	},
	async down(queryInterface: QueryInterface) {
		for (const table of ["task_watchers", "task_activity", "task_comments", "task_labels", "tasks", "project_members", "projects"]) {
			await queryInterface.dropTable(table);
		}
	},
};

export default migration;

import mysql from "mysql2/promise";
import { DataTypes, Op, type Sequelize } from "sequelize";
import { createSequelize, MAX_PREPARED_STATEMENTS_PER_CONNECTION } from "../../lib/db/sequelize";
import { TestDatabase, uniqueNamespace } from "../support/cluster";
import { describeIntegration } from "../support/integration";
import { servers } from "../support/servers";

const UPDATES = 400;
// Room for this many more prepared statements on the whole server while the test runs.
const SERVER_ROOM = 150;

describeIntegration("prepared statements on a real MariaDB", () => {
	const database = new TestDatabase(uniqueNamespace("it-stmts"));
	let admin: mysql.Connection;
	let sequelize: Sequelize;
	let serverLimit: number;

	const statementsOnServer = async () => {
		const [rows] = await admin.query<mysql.RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'");
		return Number(rows[0].Value);
	};

	beforeAll(async () => {
		await database.create();
		admin = await mysql.createConnection({ uri: servers.mariadb, connectTimeout: 5_000 });
		const [rows] = await admin.query<mysql.RowDataPacket[]>("SELECT @@GLOBAL.max_prepared_stmt_count AS limitValue");
		serverLimit = Number(rows[0].limitValue);
		sequelize = createSequelize(database.uri);
	});

	afterAll(async () => {
		await admin.query("SET GLOBAL max_prepared_stmt_count = ?", [serverLimit]);
		await sequelize.close();
		await admin.end();
		await database.drop();
	});

	it("keeps updating rows long after the server's prepared-statement limit would have been used up", async () => {
		const markers = sequelize.define("markers", { lastRead: { type: DataTypes.INTEGER, allowNull: false } }, { timestamps: false });
		await markers.sync();
		await markers.create({ id: 1, lastRead: 0 });
		const before = await statementsOnServer();
		await admin.query("SET GLOBAL max_prepared_stmt_count = ?", [before + SERVER_ROOM]);

		// One connection (a transaction), and a statement text of its own for each update, as read markers have.
		let held = 0;
		await sequelize.transaction(async (transaction) => {
			for (let messageId = 1; messageId <= UPDATES; messageId++) {
				await markers.update({ lastRead: messageId }, { where: { id: 1, lastRead: { [Op.lt]: messageId } }, transaction });
			}
			held = (await statementsOnServer()) - before;
		});

		expect((await markers.findByPk(1))?.get("lastRead")).toBe(UPDATES);
		expect(held).toBeLessThanOrEqual(MAX_PREPARED_STATEMENTS_PER_CONNECTION);
	});
});

import type { ServiceSchema } from "moleculer";
import { DatabaseError, type Error as SequelizeError } from "sequelize";
import { startPlatform, type Platform } from "../support/platform";

/** What Sequelize throws when MariaDB answers a statement with this driver error. */
function driverError(code: string, sqlMessage: string): DatabaseError {
	return new DatabaseError(Object.assign(new Error(sqlMessage), { code, sqlMessage, sql: "UPDATE t SET v = 1" }) as unknown as SequelizeError & { sql: string; parameters: object });
}

const FailingService: ServiceSchema = {
	name: "failing",
	settings: { rest: "/" },
	actions: {
		contended: {
			rest: "POST /contended",
			access: "public",
			params: { code: { type: "string" } },
			handler(ctx) {
				return Promise.reject(driverError((ctx.params as { code: string }).code, "Lock wait timeout exceeded; try restarting transaction"));
			},
		},
		broken: {
			rest: "POST /broken",
			access: "public",
			params: {},
			handler() {
				return Promise.reject(driverError("ER_BAD_FIELD_ERROR", "Unknown column 'secret@example.com' in 'where clause'"));
			},
		},
	},
};

describe("database errors that reach the client", () => {
	let platform: Platform;

	beforeAll(async () => {
		platform = await startPlatform({ services: [FailingService] });
	});
	afterAll(() => platform.broker.stop());

	it("answers 503 DATABASE_BUSY with Retry-After when the database rolled the work back under contention", async () => {
		for (const code of ["ER_LOCK_WAIT_TIMEOUT", "ER_LOCK_DEADLOCK"]) {
			const answer = await platform.client.post("/api/v1/contended", { code });

			expect(answer.status).toBe(503);
			expect(answer.body).toMatchObject({ type: "DATABASE_BUSY", message: "The failing database is busy: try again in a moment" });
			expect(answer.headers.get("retry-after")).toBe("1");
		}
	});

	it("answers any other database failure with a plain 500 that quotes nothing from the database", async () => {
		const answer = await platform.client.post("/api/v1/broken", {});

		expect(answer.status).toBe(500);
		expect(JSON.stringify(answer.body)).not.toMatch(/secret@example\.com|ER_BAD_FIELD_ERROR|Unknown column/);
	});
});

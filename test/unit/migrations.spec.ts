import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSequelize } from "../../lib/db/sequelize";
import { usersMigrations } from "../../services/users/migrations";
import { migrate } from "../../lib/db/migrate";

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe("versioned migrations", () => {
	const dir = mkdtempSync(join(tmpdir(), "colony-migrations-"));
	afterAll(() => rmSync(dir, { recursive: true, force: true }));

	it("upgrades a database of an older release without losing its rows, and runs each step once", async () => {
		const uri = `sqlite:${join(dir, "users.sqlite")}`;
		const olderRelease = createSequelize(uri);
		await migrate(olderRelease, "users", usersMigrations.slice(0, 1), quiet);
		const now = new Date().toISOString();
		await olderRelease.query(
			`INSERT INTO users (username, displayName, emailCiphertext, emailIndex, passwordHash, roles, createdAt, updatedAt)
			 VALUES ('ada', 'Ada', 'sealed', 'index', 'hash', 'admin', '${now}', '${now}')`,
		);
		await olderRelease.query(
			`INSERT INTO refresh_tokens (userId, familyId, tokenHash, expiresAt, createdAt) VALUES (1, 'f', 'h', '${now}', '${now}')`,
		);
		await olderRelease.close();

		const upgraded = createSequelize(uri);
		await migrate(upgraded, "users", usersMigrations, quiet);
		await migrate(upgraded, "users", usersMigrations, quiet);
		const [users] = await upgraded.query("SELECT username, roles FROM users");
		const [tokens] = await upgraded.query("SELECT familyId, accessTokenId FROM refresh_tokens");
		const [applied] = await upgraded.query("SELECT name FROM users_migrations ORDER BY name");
		await upgraded.close();

		expect(users).toEqual([{ username: "ada", roles: "admin" }]);
		expect(tokens).toEqual([{ familyId: "f", accessTokenId: null }]);
		expect(applied).toEqual(usersMigrations.map((m) => ({ name: m.name })));
	});
});

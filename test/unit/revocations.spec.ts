import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RevocationList } from "../../lib/auth/revocations";
import { startPlatform, type ErrorBody } from "../support/platform";

describe("ended sessions", () => {
	it("stay ended after a restart of an embedded install, without Redis", async () => {
		const dir = mkdtempSync(join(tmpdir(), "colony-revocations-"));
		const users = { databaseUri: `sqlite:${join(dir, "users.sqlite")}` };
		try {
			const before = await startPlatform({ users });
			await before.client.signUp("root");
			const session = await before.client.login("root");
			expect((await before.client.request("POST", "/api/v1/auth/logout", { token: session.accessToken })).status).toBe(204);
			await before.broker.stop();

			const after = await startPlatform({ users });
			try {
				const answer = await after.client.get<ErrorBody>("/api/v1/users/me", session.accessToken);

				expect(answer.status).toBe(401);
				expect(answer.body.type).toBe("TOKEN_REVOKED");
				expect((await after.client.post<ErrorBody>("/api/v1/auth/refresh", { refreshToken: session.refreshToken })).body.type).toBe(
					"REFRESH_TOKEN_REVOKED",
				);
			} finally {
				await after.broker.stop();
			}
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	it("are forgotten by a gateway once no token of theirs can be alive", () => {
		const list = new RevocationList();
		const now = Date.now();
		list.add([
			{ id: 1, sessionId: "old", userId: 1, expiresAt: now + 1_000, reason: "Signed out" },
			{ id: 2, sessionId: "new", userId: 1, expiresAt: now + 60_000, reason: "Signed out" },
		]);

		list.prune(now + 2_000);

		expect(list.isRevoked("old")).toBe(false);
		expect(list.isRevoked("new")).toBe(true);
		expect(list.cursor).toBe(2);
	});
});

import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Sequelize } from "sequelize";
import type { ChannelView } from "../../types/chat";
import { startPlatform } from "../support/platform";

const mode = (path: string) => statSync(path).mode & 0o777;

describe("what an embedded install keeps on disk", () => {
	const dir = mkdtempSync(join(tmpdir(), "colony-at-rest-"));
	const data = join(dir, "data");
	afterAll(() => rmSync(dir, { recursive: true, force: true }));

	it("keeps its databases readable by its own user only, names and topics sealed like messages", async () => {
		const platform = await startPlatform({ users: { databaseUri: `sqlite:${join(data, "users.sqlite")}` }, chat: { databaseUri: `sqlite:${join(data, "chat.sqlite")}` } });
		try {
			const root = await platform.client.signUp("root");
			const created = await platform.client.post<{ channel: ChannelView }>(
				"/api/v1/channels",
				{ name: "merger-plans", type: "private", topic: "acquisition of globex" },
				root.accessToken,
			);
			expect(created.body.channel).toMatchObject({ name: "merger-plans", topic: "acquisition of globex" });
			expect((await platform.client.post("/api/v1/channels", { name: "merger-plans", type: "public" }, root.accessToken)).status).toBe(409);
			await platform.client.post(`/api/v1/channels/${created.body.channel.id}/messages`, { text: "the price is 42" }, root.accessToken);
		} finally {
			await platform.broker.stop();
		}

		expect(mode(data)).toBe(0o700);
		for (const file of ["users.sqlite", "chat.sqlite"]) expect(mode(join(data, file))).toBe(0o600);
		const chatFiles = ["chat.sqlite", "chat.sqlite-wal"].map((file) => join(data, file)).filter((file) => {
			try {
				return statSync(file).isFile();
			} catch {
				return false;
			}
		});
		const dump = chatFiles.map((file) => readFileSync(file, "latin1")).join("");
		for (const secret of ["merger-plans", "globex", "the price is 42"]) expect(dump).not.toContain(secret);
	});

	it("seals the channel names and topics an older release kept in clear when it starts", async () => {
		const file = join(dir, "old-chat.sqlite");
		const users = { databaseUri: `sqlite:${join(dir, "old-users.sqlite")}` };
		const first = await startPlatform({ users, chat: { databaseUri: `sqlite:${file}` } });
		const root = await first.client.signUp("root");
		await first.broker.stop();
		// As an older release wrote it: the name and topic in clear, nothing sealed.
		const db = new Sequelize({ dialect: "sqlite", storage: file, logging: false });
		// The date format Sequelize writes to SQLite.
		const now = new Date().toISOString().replace("T", " ").replace("Z", " +00:00");
		await db.query(
			`INSERT INTO channels (type, name, topic, createdBy, createdAt, updatedAt) VALUES ('public', 'old-times', 'legacy topic', ${root.id}, '${now}', '${now}')`,
		);
		await db.close();

		const upgraded = await startPlatform({ users, chat: { databaseUri: `sqlite:${file}` } });
		try {
			const token = (await upgraded.client.login("root")).accessToken;
			const listed = await upgraded.client.get<{ items: ChannelView[] }>("/api/v1/channels", token);

			expect(listed.body).toEqual({ items: [expect.objectContaining({ name: "old-times", topic: "legacy topic" })] });
			expect((await upgraded.client.post("/api/v1/channels", { name: "old-times", type: "public" }, token)).status).toBe(409);
		} finally {
			await upgraded.broker.stop();
		}
		const check = new Sequelize({ dialect: "sqlite", storage: file, logging: false });
		const [rows] = await check.query("SELECT name, topic, nameSealed FROM channels");
		await check.close();
		expect(JSON.stringify(rows)).not.toMatch(/old-times|legacy topic/);
	});
});

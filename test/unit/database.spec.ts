import type { Options, Sequelize } from "sequelize";
import { createSequelize, redactUri } from "../../lib/db/sequelize";

/** The connection settings Sequelize keeps; nothing here connects to a server. */
function settingsOf(sequelize: Sequelize) {
	const { config, options } = sequelize as unknown as { config: Record<string, unknown>; options: Options };
	return { config, options };
}

describe("createSequelize", () => {
	const created: Sequelize[] = [];
	function create(uri: string): Sequelize {
		const sequelize = createSequelize(uri);
		created.push(sequelize);
		return sequelize;
	}
	afterAll(async () => {
		await Promise.all(created.map((sequelize) => sequelize.close()));
	});

	it.each([
		["sqlite::memory:", ":memory:"],
		["sqlite:", ":memory:"],
		["sqlite:./data/users.sqlite", "./data/users.sqlite"],
		["sqlite:/var/lib/colony/chat.sqlite", "/var/lib/colony/chat.sqlite"],
	])("opens %s as embedded SQLite stored in %s", (uri, storage) => {
		const sequelize = create(uri);

		expect(sequelize.getDialect()).toBe("sqlite");
		expect(settingsOf(sequelize).options.storage).toBe(storage);
	});

	it.each(["mysql", "mariadb"])("opens %s:// through the MySQL dialect with the URI's server and credentials", (scheme) => {
		const sequelize = create(`${scheme}://colony:s%40cret%3Apw@db.internal:3307/colony_users`);

		expect(sequelize.getDialect()).toBe("mysql");
		expect(settingsOf(sequelize).config).toMatchObject({
			host: "db.internal",
			port: 3307,
			username: "colony",
			password: "s@cret:pw",
			database: "colony_users",
		});
	});

	it("uses the default MySQL port when the URI has none", () => {
		expect(settingsOf(create("mariadb://root@db.internal/users")).config.port).toBe(3306);
	});

	it("opens oracle:// through the Oracle dialect with the service name as connect string", () => {
		const sequelize = create("oracle://colony:pw@ora.internal/FREEPDB1");

		expect(sequelize.getDialect()).toBe("oracle");
		expect(settingsOf(sequelize).config).toMatchObject({ host: "ora.internal", port: 1521, database: "FREEPDB1" });
		expect(settingsOf(sequelize).options.dialectOptions).toMatchObject({ connectString: "ora.internal:1521/FREEPDB1" });
	});

	it.each(["postgres://db.internal/users", "mongodb://db.internal/users", "redis://cache.internal"])(
		"refuses the unsupported URI %s, saying which schemes work",
		(uri) => {
			expect(() => createSequelize(uri)).toThrow(/^Unsupported database URI scheme ".+" \(use sqlite:, mysql:, mariadb: or oracle:\)$/);
		},
	);

	it("refuses a string that is not a URI at all", () => {
		expect(() => createSequelize("users.sqlite")).toThrow();
	});
});

describe("redactUri", () => {
	it("masks the password of a server URI for logs", () => {
		expect(redactUri("mysql://colony:s3cret@db.internal:3306/users")).toBe("mysql://colony:***@db.internal:3306/users");
	});

	it("masks a password that holds an unencoded @", () => {
		expect(redactUri("mysql://colony:p@ss@db.internal/users")).toBe("mysql://colony:***@db.internal/users");
	});

	it("leaves URIs without a password as they are", () => {
		expect(redactUri("mysql://root@db.internal/users")).toBe("mysql://root@db.internal/users");
		expect(redactUri("sqlite:./data/users.sqlite")).toBe("sqlite:./data/users.sqlite");
	});
});

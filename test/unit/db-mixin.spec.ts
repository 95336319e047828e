import { ServiceBroker, type Context, type ServiceSchema } from "moleculer";
import type { Sequelize } from "sequelize";
import { createDbMixin, type DbServiceThis, type DbSettings } from "../../mixins/db.mixin";

/** A service whose database is named differently from the service, as moleculer-db allows. */
function peopleService(reads: { count: number }): ServiceSchema<DbSettings, Record<string, never>, DbServiceThis<unknown>> {
	return {
		name: "people",
		mixins: [createDbMixin({ database: "accounts", migrations: [], defineTables: (db: Sequelize) => ({ db }) })],
		settings: { databaseUri: "sqlite::memory:" },
		actions: {
			count: {
				cache: true,
				idempotent: true,
				handler: () => ++reads.count,
			},
			change: {
				idempotent: true,
				async handler(ctx: Context) {
					await this.entityChanged("updated", {}, ctx);
				},
			},
		},
	};
}

describe("the db mixin", () => {
	it("cleans a service's cached answers on every node, whatever its database is called", async () => {
		const reads = { count: 0 };
		const node = (nodeID: string) =>
			new ServiceBroker({ nodeID, namespace: "db-mixin", logger: false, transporter: "Fake", cacher: "Memory", registry: { preferLocal: true } });
		const [a, b] = [node("a"), node("b")];
		a.createService(peopleService(reads) as unknown as ServiceSchema);
		b.createService(peopleService(reads) as unknown as ServiceSchema);
		await Promise.all([a.start(), b.start()]);
		try {
			// Broadcasts go to the nodes a knows: wait until it has heard of b.
			while (!a.registry.nodes.toArray().some((known) => known.id === "b" && known.available)) {
				await new Promise((resolve) => setTimeout(resolve, 10));
			}
			const cachedOnB = await b.call("people.count");
			expect(await b.call("people.count")).toBe(cachedOnB);

			await a.call("people.change");
			await new Promise((resolve) => setTimeout(resolve, 50));

			expect(await b.call("people.count")).not.toBe(cachedOnB);
		} finally {
			await Promise.all([a.stop(), b.stop()]);
		}
	});
});

import { healthPortOf } from "../../broker/node-startup";

describe("the health port of a node", () => {
	it("is the gateway's own port wherever the gateway runs, including a node of every service", () => {
		expect(healthPortOf([], {})).toBe(8080);
		expect(healthPortOf(["all"], {})).toBe(8080);
		expect(healthPortOf(["users", "api"], {})).toBe(8080);
		expect(healthPortOf(["api"], { PORT: "3000", HEALTH_PORT: "9999" })).toBe(3000);
	});

	it("is the port of a node's first service elsewhere (DESIGN §1), unless HEALTH_PORT says otherwise", () => {
		expect(healthPortOf(["users"], {})).toBe(8081);
		expect(healthPortOf(["chat", "tasks"], {})).toBe(8082);
		expect(healthPortOf(["tasks"], {})).toBe(8083);
		expect(healthPortOf(["ai"], {})).toBe(8084);
		expect(healthPortOf(["notifications"], {})).toBe(8085);
		expect(healthPortOf(["users"], { HEALTH_PORT: "9100", PORT: "3000" })).toBe(9100);
		expect(() => healthPortOf(["users"], { HEALTH_PORT: "http" })).toThrow(/HEALTH_PORT must be a non-negative integer/);
	});
});

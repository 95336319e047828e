import { DEFAULT_PASSWORD_COST } from "../../lib/auth/passwords";
import { startPlatform, type ErrorBody, type Platform } from "../support/platform";

const PASSWORD = "correct horse battery";
const QUICK = { baseDelayMs: 1_000, maxDelayMs: 2_000, forgetAfterMs: 60_000 };

function from(address: string) {
	return { "x-forwarded-for": address };
}

describe("password guessing", () => {
	let platform: Platform;

	beforeAll(async () => {
		platform = await startPlatform({
			users: { loginThrottle: { account: { freeAttempts: 5, ...QUICK }, address: { freeAttempts: 20, ...QUICK } } },
			api: { rateLimitPerMinute: 100_000, trustedProxies: ["127.0.0.1"] },
		});
		await platform.client.signUp("root");
		await platform.client.signUp("victim");
	});
	afterAll(() => platform.broker.stop());

	function login(username: string, password: string, address: string) {
		return platform.client.request<ErrorBody>("POST", "/api/v1/auth/login", { body: { username, password }, headers: from(address) });
	}

	it("holds an account back after five wrong passwords from any address, the right one included, until the wait is over", async () => {
		const statuses: number[] = [];
		for (let i = 0; i < 300; i++) statuses.push((await login("victim", `wrong guess ${i}`, `198.51.100.${1 + (i % 3)}`)).status);
		// Right after a guess that was checked, the account's wait has just begun again (a slow run could otherwise
		// let it run out between the last guess and the right password).
		let checked = statuses[statuses.length - 1] === 401;
		for (let extra = 0; !checked && extra < 1_000; extra++) checked = (await login("victim", `late guess ${extra}`, "198.51.100.9")).status === 401;
		const rightTooSoon = await login("victim", PASSWORD, "203.0.113.7");

		expect(statuses.slice(0, 6)).toEqual([401, 401, 401, 401, 401, 429]);
		// Only a guess made after a wait is checked, and each failure doubles the next wait: a handful of 300.
		expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(9);
		expect(statuses.filter((status) => status !== 401 && status !== 429)).toEqual([]);
		expect(rightTooSoon.status).toBe(429);
		expect(rightTooSoon.body.type).toBe("LOGIN_THROTTLED");
		expect(Number(rightTooSoon.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);

		await new Promise((resolve) => setTimeout(resolve, Number(rightTooSoon.headers.get("retry-after")) * 1000 + 100));
		expect((await login("victim", PASSWORD, "203.0.113.7")).status).toBe(200);
		// A success starts the count again.
		expect((await login("victim", "one more wrong guess", "203.0.113.7")).status).toBe(401);
	});

	it("holds back an address that guesses across many accounts, while other addresses sign in", async () => {
		const statuses: number[] = [];
		for (let i = 0; i < 25; i++) statuses.push((await login(`someone${i}`, "wrong guess", "192.0.2.66")).status);

		expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
		expect(statuses.slice(20)).toEqual([429, 429, 429, 429, 429]);
		expect((await login("root", PASSWORD, "192.0.2.66")).status).toBe(429);
		expect((await login("root", PASSWORD, "192.0.2.77")).status).toBe(200);
	});

	it("answers a name that matches no account like an account: held back after five failures", async () => {
		const statuses: number[] = [];
		for (let i = 0; i < 7; i++) statuses.push((await login("ghost", "wrong guess", `192.0.2.${100 + i}`)).status);

		expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
	});
});

describe("a flood of sign-ins", () => {
	it("is refused early, with 429 or 503, instead of starving a real sign-in", async () => {
		const platform = await startPlatform({
			users: { passwordCost: DEFAULT_PASSWORD_COST },
			api: { rateLimitPerMinute: 100_000, trustedProxies: ["127.0.0.1"] },
		});
		try {
			await platform.client.signUp("root");
			// The flood's own answers may queue behind one another on a loaded machine; what must stay quick is the real sign-in.
			const flood = Array.from({ length: 1_000 }, (_, i) =>
				platform.client.request("POST", "/api/v1/auth/login", { body: { username: `user${i % 50}`, password: "guess" }, headers: from(`198.51.100.${i % 10}`), timeoutMs: 60_000 }),
			);
			await new Promise((resolve) => setTimeout(resolve, 100));
			const started = Date.now();
			const real = await platform.client.request("POST", "/api/v1/auth/login", { body: { username: "root", password: PASSWORD }, headers: from("203.0.113.1") });
			const realMs = Date.now() - started;
			const statuses = (await Promise.all(flood)).map((answer) => answer.status);

			expect(real.status).toBe(200);
			expect(realMs).toBeLessThan(3_000);
			expect(statuses.filter((status) => status === 503 || status === 429).length).toBeGreaterThan(500);
			expect(statuses.filter((status) => status >= 500 && status !== 503)).toEqual([]);
		} finally {
			await platform.broker.stop();
		}
	}, 90_000);
});

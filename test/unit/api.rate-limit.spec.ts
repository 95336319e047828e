import type { ServiceBroker } from "moleculer";
import type { TokenPair } from "../../types/users";
import { startPlatform, type ErrorBody, type HttpAnswer, type Platform } from "../support/platform";

const LIMIT = 5;
const PASSWORD = "correct horse battery";

/** Signs up through the service, not the gateway, so creating accounts spends no request budget. */
async function signUpQuietly(broker: ServiceBroker, username: string): Promise<TokenPair> {
	await broker.call("users.register", { username, email: `${username}@example.com`, password: PASSWORD });
	return broker.call<TokenPair, object>("users.login", { username, password: PASSWORD });
}

describe("per-user rate limit", () => {
	let platform: Platform;
	let alice: TokenPair;
	let bob: TokenPair;

	beforeEach(async () => {
		platform = await startPlatform({ api: { rateLimitPerMinute: LIMIT } });
		alice = await signUpQuietly(platform.broker, "alice");
		bob = await signUpQuietly(platform.broker, "bob");
	});
	afterEach(() => platform.broker.stop());

	async function spendBudget(token: string): Promise<HttpAnswer<ErrorBody>[]> {
		const answers: HttpAnswer<ErrorBody>[] = [];
		for (let i = 0; i < LIMIT; i++) answers.push(await platform.client.get<ErrorBody>("/api/v1/users/me", token));
		return answers;
	}

	it("counts a user's requests down and refuses the sixth with 429 and Retry-After", async () => {
		const allowed = await spendBudget(alice.accessToken);

		expect(allowed.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
		expect(allowed.map((answer) => answer.headers.get("x-ratelimit-remaining"))).toEqual(["4", "3", "2", "1", "0"]);
		const refused = await platform.client.get<ErrorBody>("/api/v1/users/me", alice.accessToken);
		expect(refused.status).toBe(429);
		expect(refused.headers.get("x-ratelimit-limit")).toBe(String(LIMIT));
		const retryAfter = Number(refused.headers.get("retry-after"));
		expect(retryAfter).toBeGreaterThanOrEqual(1);
		expect(retryAfter).toBeLessThanOrEqual(60);
		expect(refused.body).toMatchObject({ code: 429, type: "RATE_LIMITED", data: { retryAfter } });
	});

	it("refuses a user who spent the budget on every route, with any of their tokens", async () => {
		await spendBudget(alice.accessToken);
		const otherLogin = await platform.broker.call<TokenPair, object>("users.login", { username: "alice", password: PASSWORD });

		expect((await platform.client.get("/api/v1/users", alice.accessToken)).status).toBe(429);
		expect((await platform.client.get("/api/v1/users/me", otherLogin.accessToken)).status).toBe(429);
	});

	it("does not hold back another user", async () => {
		await spendBudget(alice.accessToken);

		const answer = await platform.client.get("/api/v1/users/me", bob.accessToken);

		expect(answer.status).toBe(200);
		expect(answer.headers.get("x-ratelimit-remaining")).toBe("4");
	});

	it("does not hold back anonymous callers from the same address", async () => {
		await spendBudget(alice.accessToken);

		const answer = await platform.client.post("/api/v1/auth/login", { username: "bob", password: PASSWORD });

		expect(answer.status).toBe(200);
	});
});

describe("per-address rate limit of anonymous callers", () => {
	let platform: Platform;
	let carol: TokenPair;

	beforeEach(async () => {
		platform = await startPlatform({ api: { rateLimitPerMinute: LIMIT } });
		carol = await signUpQuietly(platform.broker, "carol");
	});
	afterEach(() => platform.broker.stop());

	async function spendBudgetGuessing(): Promise<number[]> {
		const statuses: number[] = [];
		for (let i = 0; i < LIMIT; i++) {
			const guess = await platform.client.post("/api/v1/auth/login", { username: "carol", password: `guess number ${i}` });
			statuses.push(guess.status);
		}
		return statuses;
	}

	it("refuses the sixth anonymous request from one address, even with the right password", async () => {
		expect(await spendBudgetGuessing()).toEqual([401, 401, 401, 401, 401]);

		const answer = await platform.client.post<ErrorBody>("/api/v1/auth/login", { username: "carol", password: PASSWORD });

		expect(answer.status).toBe(429);
		expect(answer.headers.get("retry-after")).toMatch(/^\d+$/);
		expect(answer.body.type).toBe("RATE_LIMITED");
	});

	it("lets a signed-in user from that address through", async () => {
		await spendBudgetGuessing();

		expect((await platform.client.get("/api/v1/users/me", carol.accessToken)).status).toBe(200);
	});

	it("never counts health checks and metrics scrapes", async () => {
		for (let i = 0; i < 2 * LIMIT; i++) {
			for (const path of ["/health/live", "/health/ready", "/metrics"]) {
				expect((await fetch(`${platform.client.baseUrl}${path}`)).status).toBe(200);
			}
		}

		expect(await spendBudgetGuessing()).toEqual([401, 401, 401, 401, 401]);
	});
});

describe("requests with refused tokens", () => {
	let platform: Platform;
	let dave: TokenPair;

	beforeAll(async () => {
		platform = await startPlatform({ api: { rateLimitPerMinute: LIMIT } });
		dave = await signUpQuietly(platform.broker, "dave");
	});
	afterAll(() => platform.broker.stop());

	it("count against the address, so guessing tokens runs out of budget", async () => {
		for (let i = 0; i < LIMIT; i++) {
			expect((await platform.client.get("/api/v1/users/me", `guessed.token.${i}`)).status).toBe(401);
		}

		expect((await platform.client.get("/api/v1/users/me", "guessed.token.last")).status).toBe(429);
		expect((await platform.client.post("/api/v1/auth/login", { username: "dave", password: PASSWORD })).status).toBe(429);
		expect((await platform.client.get("/api/v1/users/me", dave.accessToken)).status).toBe(200);
	});
});

describe("X-Forwarded-For", () => {
	function anonymousFrom(platform: Platform, forwardedFor: string) {
		return platform.client.request<ErrorBody>("GET", "/api/v1/users/me", { headers: { "x-forwarded-for": forwardedFor } });
	}

	async function spendBudget(platform: Platform, forwardedFor: string): Promise<number[]> {
		const statuses: number[] = [];
		for (let i = 0; i < LIMIT; i++) statuses.push((await anonymousFrom(platform, forwardedFor)).status);
		return statuses;
	}

	describe("behind a trusted proxy", () => {
		let platform: Platform;

		beforeEach(async () => {
			platform = await startPlatform({ api: { rateLimitPerMinute: LIMIT, trustedProxies: ["127.0.0.1"] } });
		});
		afterEach(() => platform.broker.stop());

		it("gives each forwarded client address its own budget", async () => {
			expect(await spendBudget(platform, "203.0.113.1")).toEqual([401, 401, 401, 401, 401]);

			expect((await anonymousFrom(platform, "203.0.113.1")).status).toBe(429);
			expect((await anonymousFrom(platform, "203.0.113.2")).status).toBe(401);
		});

		it("does not let a client escape its budget by forging hops in front of its address", async () => {
			await spendBudget(platform, "198.51.100.1, 203.0.113.9");

			const answer = await anonymousFrom(platform, "198.51.100.2, 203.0.113.9");

			expect(answer.status).toBe(429);
		});
	});

	describe("from a peer that is not a trusted proxy", () => {
		let platform: Platform;

		beforeAll(async () => {
			platform = await startPlatform({ api: { rateLimitPerMinute: LIMIT, trustedProxies: [] } });
		});
		afterAll(() => platform.broker.stop());

		it("is ignored: every claimed address shares the peer's budget", async () => {
			expect(await spendBudget(platform, "203.0.113.1")).toEqual([401, 401, 401, 401, 401]);

			const answer = await anonymousFrom(platform, "203.0.113.2");

			expect(answer.status).toBe(429);
			expect(answer.body.type).toBe("RATE_LIMITED");
		});
	});
});

import type { CorsOptions } from "moleculer-web";
import ApiService from "../../services/api/api.service";
import { startPlatform, type ErrorBody, type Platform, type SignedInUser } from "../support/platform";

describe("the api gateway", () => {
	let platform: Platform;
	let member: SignedInUser;

	beforeAll(async () => {
		const cors = { ...(ApiService.settings?.cors as CorsOptions), origin: ["http://localhost:3000", "https://app.example.com"] };
		platform = await startPlatform({ api: { cors } });
		await platform.client.signUp("admin");
		member = await platform.client.signUp("member");
	});
	afterAll(() => platform.broker.stop());

	function send(method: string, path: string, options: Parameters<Platform["client"]["request"]>[2] = {}) {
		return platform.client.request<ErrorBody>(method, path, options);
	}

	describe("request bodies", () => {
		it.each([
			["cut off", '{"username": "someone", '],
			["a bare string", '"someone"'],
			["not JSON at all", "username=someone"],
		])("answers a body that is %s with 400 INVALID_JSON", async (_case, rawBody) => {
			const answer = await send("POST", "/api/v1/auth/register", { rawBody });

			expect(answer.status).toBe(400);
			expect(answer.body).toEqual({
				name: "BadRequestError",
				message: "Request body is not valid JSON",
				code: 400,
				type: "INVALID_JSON",
			});
		});

		it("answers a body over 64kb with 413 PAYLOAD_TOO_LARGE", async () => {
			const body = { username: "big", email: "big@example.com", password: "x".repeat(65 * 1024) };

			const answer = await send("POST", "/api/v1/auth/register", { body });

			expect(answer.status).toBe(413);
			expect(answer.body).toMatchObject({ code: 413, type: "PAYLOAD_TOO_LARGE" });
		});

		it("takes a body just under 64kb to the action, which then judges it", async () => {
			const body = { username: "big", email: "big@example.com", password: "x".repeat(60 * 1024) };

			const answer = await send("POST", "/api/v1/auth/register", { body });

			expect(answer.status).toBe(422);
			expect(answer.body.data).toEqual([expect.objectContaining({ field: "password", type: "stringMax" })]);
		});

		it("answers a JSON body in a charset it cannot read with 415", async () => {
			const answer = await send("POST", "/api/v1/auth/login", {
				rawBody: '{"username":"member","password":"correct horse battery"}',
				headers: { "content-type": "application/json; charset=latin1" },
			});

			expect(answer.status).toBe(415);
			expect(answer.body).toMatchObject({ code: 415, type: "UNSUPPORTED_MEDIA_TYPE" });
		});
	});

	describe("routes", () => {
		it.each([
			["GET", "/api/v1/nowhere"],
			["GET", "/nowhere.txt"],
			["GET", "/api/v1/users/me/settings"],
			["DELETE", "/api/v1/users/me"],
			["GET", "/api/v1/auth/login"],
			["GET", "/api/v1/users.list"],
		])("answers %s %s with 404", async (method, path) => {
			const answer = await send(method, path, { token: member.accessToken });

			expect(answer.status).toBe(404);
			expect(answer.body).toMatchObject({ code: 404, type: "NOT_FOUND" });
		});

		it.each([
			["POST", "/api/v1/auth/logout"],
			["GET", "/api/v1/users/me"],
			["GET", "/api/v1/users"],
			["GET", "/api/v1/users/1"],
			["PATCH", "/api/v1/users/1/roles"],
		])("refuses %s %s without a token with 401 NO_TOKEN", async (method, path) => {
			const answer = await send(method, path);

			expect(answer.status).toBe(401);
			expect(answer.body).toMatchObject({ code: 401, type: "NO_TOKEN", message: expect.stringContaining("Bearer") });
		});

		it("does not publish the users service's internal actions", async () => {
			const answer = await send("POST", "/api/v1/users/resolveToken", { body: { token: member.accessToken } });

			expect(answer.status).toBe(404);
		});
	});

	describe("validation errors", () => {
		it("names the field and the rule, but never echoes a rejected value", async () => {
			// fastest-validator puts the value it rejects in `actual`; a password typed into the email field is one.
			const secret = "my secret passphrase 42";

			const answer = await send("POST", "/api/v1/auth/register", {
				body: { username: "echo", email: secret, password: "correct horse battery" },
			});

			expect(answer.status).toBe(422);
			expect(answer.body).toEqual({
				name: "ValidationError",
				message: "Parameters validation error!",
				code: 422,
				type: "VALIDATION_ERROR",
				data: [{ field: "email", type: "email", message: expect.any(String) }],
			});
			expect(JSON.stringify(answer.body)).not.toContain("passphrase");
		});

		it("does not echo a password sent as a number", async () => {
			const answer = await send("POST", "/api/v1/auth/login", { body: { username: "member", password: 8675309123 } });

			expect(answer.status).toBe(422);
			expect(JSON.stringify(answer.body)).not.toContain("8675309123");
		});

		it("does not echo a username that breaks the pattern", async () => {
			const answer = await send("POST", "/api/v1/auth/register", {
				body: { username: "<script>alert(1)</script>", email: "x@example.com", password: "correct horse battery" },
			});

			expect(answer.status).toBe(422);
			expect(JSON.stringify(answer.body)).not.toContain("script");
		});
	});

	describe("CORS", () => {
		it.each(["http://localhost:3000", "https://app.example.com"])(
			"lets the allowed origin %s read answers, with credentials",
			async (origin) => {
				const answer = await send("GET", "/api/v1/users/me", { token: member.accessToken, headers: { origin } });

				expect(answer.status).toBe(200);
				expect(answer.headers.get("access-control-allow-origin")).toBe(origin);
				expect(answer.headers.get("access-control-allow-credentials")).toBe("true");
				expect(answer.headers.get("access-control-expose-headers")).toContain("Retry-After");
			},
		);

		it("answers a preflight of an allowed origin with the methods and headers it may use", async () => {
			const answer = await send("OPTIONS", "/api/v1/users/1/roles", {
				headers: {
					origin: "https://app.example.com",
					"access-control-request-method": "PATCH",
					"access-control-request-headers": "authorization, content-type",
				},
			});

			expect(answer.status).toBe(204);
			expect(answer.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
			expect(answer.headers.get("access-control-allow-methods")).toContain("PATCH");
			expect(answer.headers.get("access-control-allow-headers")).toBe("Authorization, Content-Type");
		});

		it("gives a foreign origin no Access-Control-Allow-Origin", async () => {
			const answer = await send("GET", "/api/v1/users/me", {
				token: member.accessToken,
				headers: { origin: "https://evil.example.net" },
			});

			expect(answer.headers.get("access-control-allow-origin")).toBeNull();
			expect(answer.status).toBe(403);
			expect(answer.body).toMatchObject({ code: 403, type: "ORIGIN_NOT_ALLOWED" });
		});

		it("gives a foreign origin's preflight no Access-Control-Allow-Origin", async () => {
			const answer = await send("OPTIONS", "/api/v1/users/me", {
				headers: { origin: "https://evil.example.net", "access-control-request-method": "GET" },
			});

			expect(answer.headers.get("access-control-allow-origin")).toBeNull();
			expect(answer.status).toBe(403);
		});
	});
});

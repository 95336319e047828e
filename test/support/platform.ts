import { ServiceBroker, type BrokerOptions, type ServiceSchema } from "moleculer";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import ApiService, { type ApiSettings } from "../../services/api.service";
import UsersService, { type UsersSettings } from "../../services/users.service";

/** Cheap argon2 cost for tests: the same code path, a fraction of the time. */
export const TEST_PASSWORD_COST = { memoryCost: 1_024, timeCost: 1 };

export function usersService(settings: Partial<UsersSettings> = {}): ServiceSchema {
	return {
		...(UsersService as unknown as ServiceSchema),
		settings: {
			...UsersService.settings,
			databaseUri: "sqlite::memory:",
			redisUrl: undefined,
			passwordCost: TEST_PASSWORD_COST,
			...settings,
		},
	};
}

export function apiService(settings: Partial<ApiSettings> = {}): ServiceSchema {
	return {
		...(ApiService as unknown as ServiceSchema),
		settings: { ...ApiService.settings, port: 0, ip: "127.0.0.1", redisUrl: undefined, ...settings },
	};
}

export function testBroker(options: BrokerOptions = {}): ServiceBroker {
	return new ServiceBroker({ logger: false, cacher: "Memory", ...options });
}

/** The base URL of a started api service (it listens on a free port). */
export function gatewayUrl(broker: ServiceBroker): string {
	const api = broker.getLocalService("api") as unknown as { server: Server };
	const { port } = api.server.address() as AddressInfo;
	return `http://127.0.0.1:${port}`;
}

export interface HttpAnswer<T = Record<string, unknown>> {
	status: number;
	headers: Headers;
	body: T;
}

/** A small REST client for tests: JSON in, JSON out, with an optional bearer token. */
export class RestClient {
	constructor(readonly baseUrl: string) {}

	async request<T = Record<string, unknown>>(
		method: string,
		path: string,
		options: { body?: unknown; token?: string; rawBody?: string; headers?: Record<string, string> } = {},
	): Promise<HttpAnswer<T>> {
		const headers: Record<string, string> = { ...options.headers };
		if (options.token) headers.authorization = `Bearer ${options.token}`;
		let body: string | undefined = options.rawBody;
		if (options.body !== undefined) body = JSON.stringify(options.body);
		if (body !== undefined) headers["content-type"] ??= "application/json";
		const res = await fetch(this.baseUrl + path, { method, headers, body, signal: AbortSignal.timeout(10_000) });
		const text = await res.text();
		return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as T };
	}

	get<T = Record<string, unknown>>(path: string, token?: string) {
		return this.request<T>("GET", path, { token });
	}

	post<T = Record<string, unknown>>(path: string, body?: unknown, token?: string) {
		return this.request<T>("POST", path, { body, token });
	}

	patch<T = Record<string, unknown>>(path: string, body?: unknown, token?: string) {
		return this.request<T>("PATCH", path, { body, token });
	}

	async register(username: string, password = "correct horse battery") {
		return this.post<{ user: { id: number; roles: string[] } }>("/api/v1/auth/register", {
			username,
			email: `${username}@example.com`,
			password,
		});
	}

	async login(username: string, password = "correct horse battery") {
		const answer = await this.post<{ accessToken: string; refreshToken: string; expiresIn: number }>(
			"/api/v1/auth/login",
			{ username, password },
		);
		if (answer.status !== 200) throw new Error(`login of ${username} failed: ${JSON.stringify(answer.body)}`);
		return answer.body;
	}
}

import { ServiceBroker, type ActionSchema, type BrokerOptions, type ServiceSchema } from "moleculer";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import ApiService, { type ApiSettings } from "../../services/api/api.service";
import type { SocketGatewaySettings } from "../../services/api/socket-gateway.mixin";
import AiService, { type AiSettings } from "../../services/ai/ai.service";
import ChatService, { type ChatSettings } from "../../services/chat/chat.service";
import NotificationsService, { type NotificationsSettings } from "../../services/notifications/notifications.service";
import UsersService, { type UsersSettings } from "../../services/users/users.service";
import type { TokenPair } from "../../types/users";
import { createBrokerOptions } from "../../moleculer.config";

/** Cheap argon2 cost for tests: the same code path, a fraction of the time. */
export const TEST_PASSWORD_COST = { memoryCost: 1_024, timeCost: 1 };

export function usersService(settings: Partial<UsersSettings> = {}): ServiceSchema {
	return {
		...(UsersService as unknown as ServiceSchema),
		settings: {
			...UsersService.settings,
			databaseUri: "sqlite::memory:",
			passwordCost: TEST_PASSWORD_COST,
			...settings,
		},
	};
}

export function chatService(settings: Partial<ChatSettings> = {}): ServiceSchema {
	return {
		...(ChatService as unknown as ServiceSchema),
		settings: { ...ChatService.settings, databaseUri: "sqlite::memory:", ...settings },
	};
}

/** Notifications on an in-memory database; mail is written to the log unless a test gives `smtpUrl`. */
export function notificationsService(settings: Partial<NotificationsSettings> = {}): ServiceSchema {
	return {
		...(NotificationsService as unknown as ServiceSchema),
		settings: { ...NotificationsService.settings, databaseUri: "sqlite::memory:", smtpUrl: undefined, ...settings },
	};
}

/** An ai node bound to a test Ollama; heartbeats every 200 ms so tests see a host go down and up quickly. */
export function aiService(settings: Partial<AiSettings> & { ollamaHost: string }): ServiceSchema {
	return {
		...(AiService as unknown as ServiceSchema),
		settings: { ...AiService.settings, redisUrl: undefined, heartbeatMs: 200, chatModel: "llama3.2", embedModel: "nomic-embed-text", ...settings },
	};
}

export function apiService(settings: Partial<ApiSettings & SocketGatewaySettings> = {}): ServiceSchema {
	return {
		...(ApiService as unknown as ServiceSchema),
		// Every test connects from 127.0.0.1: connection attempts are not limited unless a test asks.
		settings: { ...ApiService.settings, port: 0, ip: "127.0.0.1", redisUrl: undefined, socketConnectsPerMinute: 1_000_000, ...settings },
	};
}

/** A service `name` with one public route, `GET /api/v1/<name>`, that answers `{ answered: true }` after `delayMs`. */
export function delayedRouteService(name: string, delayMs: number, action: Partial<ActionSchema> = {}): ServiceSchema {
	return {
		name,
		settings: { rest: "/" },
		actions: {
			answer: {
				rest: `GET /${name}`,
				access: "public",
				idempotent: true,
				params: {},
				...action,
				async handler() {
					await new Promise((resolve) => setTimeout(resolve, delayMs));
					return { answered: true };
				},
			},
		},
	};
}

/** A broker with production's options (middlewares, retries, validation), in-process, silent, memory cache. */
export function testBroker(options: BrokerOptions = {}): ServiceBroker {
	const production = createBrokerOptions({ LOG_LEVEL: "silent", NAMESPACE: "test" });
	// A test's own middlewares run innermost, next to the handlers, as user middlewares do in Moleculer.
	const middlewares = [...(options.middlewares ?? []), ...(production.middlewares ?? [])];
	return new ServiceBroker({ ...production, cacher: "Memory", ...options, middlewares });
}

export interface PlatformOptions {
	users?: Partial<UsersSettings>;
	/** Runs the chat service too, with these settings. */
	chat?: Partial<ChatSettings>;
	/** Runs an ai node too, bound to this (test) Ollama. */
	ai?: Partial<AiSettings> & { ollamaHost: string };
	/** Runs the notifications service too, with these settings. */
	notifications?: Partial<NotificationsSettings>;
	api?: Partial<ApiSettings & SocketGatewaySettings>;
	/** More services on the same broker (e.g. tasks). */
	services?: ServiceSchema[];
	broker?: BrokerOptions;
}

export interface Platform {
	broker: ServiceBroker;
	client: RestClient;
}

/** A started broker running the users service and the gateway, and a client pointed at the gateway. */
export async function startPlatform(options: PlatformOptions = {}): Promise<Platform> {
	const broker = testBroker(options.broker);
	broker.createService(usersService(options.users));
	if (options.chat) broker.createService(chatService(options.chat));
	if (options.ai) broker.createService(aiService(options.ai));
	if (options.notifications) broker.createService(notificationsService(options.notifications));
	for (const schema of options.services ?? []) broker.createService(schema);
	broker.createService(apiService(options.api));
	await broker.start();
	return { broker, client: new RestClient(gatewayUrl(broker)) };
}

/** The base URL of a started api service (it listens on a free port). */
export function gatewayUrl(broker: ServiceBroker): string {
	const api = broker.getLocalService("api") as unknown as { server: Server };
	const { port } = api.server.address() as AddressInfo;
	return `http://127.0.0.1:${port}`;
}

/** moleculer-web's error answer. */
export interface ErrorBody {
	name: string;
	message: string;
	code: number;
	type: string;
	data?: unknown;
}

/** A signed-in account, as a client holds it after register and login. */
export interface SignedInUser {
	id: number;
	username: string;
	roles: string[];
	accessToken: string;
	refreshToken: string;
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
		options: { body?: unknown; token?: string; rawBody?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
	): Promise<HttpAnswer<T>> {
		const headers: Record<string, string> = { ...options.headers };
		if (options.token) headers.authorization = `Bearer ${options.token}`;
		let body: string | undefined = options.rawBody;
		if (options.body !== undefined) body = JSON.stringify(options.body);
		if (body !== undefined) headers["content-type"] ??= "application/json";
		const res = await fetch(this.baseUrl + path, { method, headers, body, signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
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

	put<T = Record<string, unknown>>(path: string, body?: unknown, token?: string) {
		return this.request<T>("PUT", path, { body, token });
	}

	async register(username: string, password = "correct horse battery") {
		return this.post<{ user: { id: number; roles: string[] } }>("/api/v1/auth/register", {
			username,
			email: `${username}@example.com`,
			password,
		});
	}

	async login(username: string, password = "correct horse battery") {
		const answer = await this.post<TokenPair>("/api/v1/auth/login", { username, password });
		if (answer.status !== 200) throw new Error(`login of ${username} failed: ${JSON.stringify(answer.body)}`);
		return answer.body;
	}

	/** Registers an account and signs it in, failing the test if either step is refused. */
	async signUp(username: string, password = "correct horse battery"): Promise<SignedInUser> {
		const registered = await this.register(username, password);
		if (registered.status !== 201) throw new Error(`register of ${username} failed: ${JSON.stringify(registered.body)}`);
		const { accessToken, refreshToken } = await this.login(username, password);
		const { id, roles } = registered.body.user;
		return { id, username, roles, accessToken, refreshToken };
	}
}

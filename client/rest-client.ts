import type { ChannelView, MessageView, UnreadView } from "../types/chat";
import type { NotificationPage, NotificationPreferences, NotificationType, ChannelChoice, NotificationView, PushSubscriptionInput } from "../types/notifications";
import type { ActivityView, CommentView, ProjectRole, ProjectView, TaskPriority, TaskView, Workflow } from "../types/tasks";
import type { PublicUser, TokenPair } from "../types/users";
import { ColonyApiError } from "./errors";
import { MemoryTokenStorage, type StoredSession, type TokenStorage } from "./storage";
import type { AccessTokenProvider, OutgoingMessage } from "./websocket-bridge";

/** The part of `fetch` the client uses, so browsers, Node and React Native (or a test double) all fit. */
export interface FetchInit {
	method: string;
	headers: Record<string, string>;
	body?: string;
	signal: AbortSignal;
}

export interface FetchResponse {
	status: number;
	text(): Promise<string>;
}

export type FetchLike = (url: string, init: FetchInit) => Promise<FetchResponse>;

export interface ColonyRestClientOptions {
	/** The server's origin, e.g. `https://colony.example.com`; the API lives under `apiPrefix`. */
	baseUrl: string;
	apiPrefix?: string;
	fetch?: FetchLike;
	/** Per request, including reading the answer; default 15 s. */
	timeoutMs?: number;
	tokenStorage?: TokenStorage;
	/** Refresh the access token this long before it expires (at most a quarter of its lifetime); default 30 s. */
	refreshLeewaySeconds?: number;
	/** The client's clock in epoch milliseconds. */
	now?: () => number;
	/** Called when the session ends without the user signing out, e.g. the refresh token was refused. */
	onSessionEnded?: (reason: ColonyApiError) => void;
	/**
	 * For several clients sharing one token storage (browser tabs): runs each refresh under a lock they share, e.g.
	 * `(work) => navigator.locks.request("colony-refresh", work)`. Inside it the client reads the storage again and
	 * refreshes with the newest refresh token, so no client presents one another has already rotated (which the
	 * server takes as theft and answers by ending the session).
	 */
	refreshLock?: <T>(work: () => Promise<T>) => Promise<T>;
}

export interface RegisterInput {
	username: string;
	email: string;
	password: string;
	displayName?: string;
}

export interface NewChannel {
	name: string;
	type: "public" | "private";
	topic?: string;
}

/** A channel as the channel list shows it: whether the caller is a member of it. */
export type ChannelListItem = ChannelView & { member: boolean };

export interface HistoryQuery {
	/** Only messages older than this message id (the previous page's `nextCursor`). */
	before?: number | string;
	limit?: number;
	/** Only the replies of this thread. */
	parentId?: number;
}

/** Newest first; `nextCursor` is the `before` of the next, older page, null on the last one. */
export interface MessagePage {
	items: MessageView[];
	nextCursor: string | null;
}

export interface NewProject {
	name: string;
	description?: string;
	members?: number[];
	/** Apply the AI's triage suggestions to new tasks by itself. */
	autoApplyTriage?: boolean;
}

export interface NewTask {
	title: string;
	description?: string;
	priority?: TaskPriority;
	assigneeId?: number;
	labels?: string[];
	/** ISO 8601. */
	dueDate?: string;
}

/** The fields to change, and the version they were read at: a stale version is refused with 409. */
export type TaskChange = { version: number } & Partial<{ title: string; description: string | null; priority: TaskPriority; assigneeId: number | null; labels: string[]; dueDate: string | null }>;

export interface TaskQuery {
	status?: string;
	assigneeId?: number;
	label?: string;
	dueBefore?: string;
	cursor?: string;
	limit?: number;
}

export interface TaskPage {
	items: TaskView[];
	nextCursor: string | null;
}

export interface PreferencesChange {
	timeZone?: string;
	quietHours?: { start: string; end: string } | null;
	digest?: Partial<NotificationPreferences["digest"]>;
	channels?: Partial<Record<NotificationType, Partial<ChannelChoice>>>;
}

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface RequestOptions {
	body?: unknown;
	query?: Record<string, string | number | boolean | undefined>;
	/** Send the access token (refreshing it when needed); true unless the route is public. */
	auth?: boolean;
	timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_REFRESH_LEEWAY_SECONDS = 30;

/**
 * The Colony REST API (DESIGN §4) over `fetch`. It holds the token pair, refreshes the access token itself
 * shortly before it expires or when a call is refused with `TOKEN_EXPIRED` (one refresh at a time, however many
 * calls wait on it) and then retries that call once. Every failure is a `ColonyApiError`.
 */
export class ColonyRestClient {
	private readonly baseUrl: string;
	private readonly fetchFn: FetchLike;
	private readonly timeoutMs: number;
	private readonly tokens: TokenStorage;
	private readonly leewayMs: number;
	private readonly now: () => number;
	private readonly onSessionEnded?: (reason: ColonyApiError) => void;
	private readonly refreshLock?: <T>(work: () => Promise<T>) => Promise<T>;
	/** undefined until read from the token storage. */
	private session: StoredSession | null | undefined;
	private refreshing: Promise<StoredSession> | null = null;

	constructor(options: ColonyRestClientOptions) {
		this.baseUrl = options.baseUrl.replace(/\/+$/, "") + (options.apiPrefix ?? "/api/v1");
		// Called through a wrapper: browsers refuse a `fetch` detached from `window`.
		this.fetchFn = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
		this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
		this.tokens = options.tokenStorage ?? new MemoryTokenStorage();
		this.leewayMs = (options.refreshLeewaySeconds ?? DEFAULT_REFRESH_LEEWAY_SECONDS) * 1000;
		this.now = options.now ?? Date.now;
		this.onSessionEnded = options.onSessionEnded;
		this.refreshLock = options.refreshLock;
	}

	async register(input: RegisterInput): Promise<PublicUser> {
		return (await this.request<{ user: PublicUser }>("POST", "/auth/register", { body: input, auth: false })).user;
	}

	/** Signs in with a username or an email and keeps the session. */
	async login(login: string, password: string): Promise<PublicUser> {
		const answer = await this.request<TokenPair & { user: PublicUser }>("POST", "/auth/login", {
			body: { username: login, password },
			auth: false,
		});
		await this.keepSession(answer);
		return answer.user;
	}

	/** Replaces the token pair now (it also happens by itself when needed). */
	async refresh(): Promise<void> {
		await this.startRefresh();
	}

	/** Ends the session on the server (the access token stops working at once) and forgets it here. */
	async logout(): Promise<void> {
		const session = await this.currentSession();
		if (!session) return;
		try {
			await this.request<null>("POST", "/auth/logout", { body: { refreshToken: session.refreshToken } });
		} finally {
			await this.forgetSession();
		}
	}

	async isSignedIn(): Promise<boolean> {
		return (await this.currentSession()) !== null;
	}

	me(): Promise<PublicUser> {
		return this.request<PublicUser>("GET", "/users/me");
	}

	async listChannels(): Promise<ChannelListItem[]> {
		return (await this.request<{ items: ChannelListItem[] }>("GET", "/channels")).items;
	}

	async createChannel(channel: NewChannel): Promise<ChannelView> {
		return (await this.request<{ channel: ChannelView }>("POST", "/channels", { body: channel })).channel;
	}

	async joinChannel(channelId: number): Promise<ChannelView> {
		return (await this.request<{ channel: ChannelView }>("POST", `/channels/${channelId}/join`, { body: {} })).channel;
	}

	async addMember(channelId: number, userId: number): Promise<ChannelView> {
		return (await this.request<{ channel: ChannelView }>("POST", `/channels/${channelId}/members`, { body: { userId } })).channel;
	}

	/** The direct conversation with a user; the same one every time. */
	async openDirect(userId: number): Promise<ChannelView> {
		return (await this.request<{ channel: ChannelView }>("POST", "/dms", { body: { userId } })).channel;
	}

	history(channelId: number, query: HistoryQuery = {}): Promise<MessagePage> {
		return this.request<MessagePage>("GET", `/channels/${channelId}/messages`, { query: { ...query } });
	}

	/** Sending twice with the same `clientMsgId` stores the message once and answers with it both times. */
	async sendMessage(message: OutgoingMessage): Promise<MessageView> {
		const { channelId, ...body } = message;
		return (await this.request<{ message: MessageView }>("POST", `/channels/${channelId}/messages`, { body })).message;
	}

	async editMessage(messageId: number, text: string): Promise<MessageView> {
		return (await this.request<{ message: MessageView }>("PATCH", `/messages/${messageId}`, { body: { text } })).message;
	}

	async deleteMessage(messageId: number): Promise<MessageView> {
		return (await this.request<{ message: MessageView }>("DELETE", `/messages/${messageId}`)).message;
	}

	/** Toggles the caller's reaction. */
	async react(messageId: number, emoji: string): Promise<MessageView> {
		return (await this.request<{ message: MessageView }>("POST", `/messages/${messageId}/reactions`, { body: { emoji } })).message;
	}

	/** Moves the read marker of a channel forward and answers with the unread counts of every channel. */
	async markRead(channelId: number, messageId: number): Promise<UnreadView[]> {
		return (await this.request<{ items: UnreadView[] }>("POST", `/channels/${channelId}/read`, { body: { messageId } })).items;
	}

	async unread(): Promise<UnreadView[]> {
		return (await this.request<{ items: UnreadView[] }>("GET", "/channels/unread")).items;
	}

	async listProjects(): Promise<ProjectView[]> {
		return (await this.request<{ items: ProjectView[] }>("GET", "/projects")).items;
	}

	async createProject(project: NewProject): Promise<ProjectView> {
		return (await this.request<{ project: ProjectView }>("POST", "/projects", { body: project })).project;
	}

	async getProject(projectId: number): Promise<ProjectView> {
		return (await this.request<{ project: ProjectView }>("GET", `/projects/${projectId}`)).project;
	}

	/** Adds a member, or changes a member's role (project admins only). */
	async setProjectMember(projectId: number, userId: number, role?: ProjectRole): Promise<ProjectView> {
		return (await this.request<{ project: ProjectView }>("POST", `/projects/${projectId}/members`, { body: { userId, ...(role ? { role } : {}) } })).project;
	}

	async removeProjectMember(projectId: number, userId: number): Promise<ProjectView> {
		return (await this.request<{ project: ProjectView }>("DELETE", `/projects/${projectId}/members/${userId}`)).project;
	}

	async getWorkflow(projectId: number): Promise<Workflow> {
		return (await this.request<{ workflow: Workflow }>("GET", `/projects/${projectId}/workflow`)).workflow;
	}

	async setWorkflow(projectId: number, workflow: Workflow): Promise<Workflow> {
		return (await this.request<{ workflow: Workflow }>("PUT", `/projects/${projectId}/workflow`, { body: workflow })).workflow;
	}

	listTasks(projectId: number, query: TaskQuery = {}): Promise<TaskPage> {
		return this.request<TaskPage>("GET", `/projects/${projectId}/tasks`, { query: { ...query } });
	}

	async createTask(projectId: number, task: NewTask): Promise<TaskView> {
		return (await this.request<{ task: TaskView }>("POST", `/projects/${projectId}/tasks`, { body: task })).task;
	}

	async getTask(taskId: number): Promise<TaskView> {
		return (await this.request<{ task: TaskView }>("GET", `/tasks/${taskId}`)).task;
	}

	async updateTask(taskId: number, change: TaskChange): Promise<TaskView> {
		return (await this.request<{ task: TaskView }>("PATCH", `/tasks/${taskId}`, { body: change })).task;
	}

	async deleteTask(taskId: number): Promise<TaskView> {
		return (await this.request<{ task: TaskView }>("DELETE", `/tasks/${taskId}`)).task;
	}

	/** Moves a task to another state of its project's workflow; one it may not reach is refused with 422 ILLEGAL_TRANSITION. */
	async moveTask(taskId: number, to: string, version?: number): Promise<TaskView> {
		return (await this.request<{ task: TaskView }>("POST", `/tasks/${taskId}/transition`, { body: { to, ...(version !== undefined ? { version } : {}) } })).task;
	}

	async comments(taskId: number): Promise<CommentView[]> {
		return (await this.request<{ items: CommentView[] }>("GET", `/tasks/${taskId}/comments`)).items;
	}

	async addComment(taskId: number, text: string): Promise<CommentView> {
		return (await this.request<{ comment: CommentView }>("POST", `/tasks/${taskId}/comments`, { body: { text } })).comment;
	}

	async activity(taskId: number): Promise<ActivityView[]> {
		return (await this.request<{ items: ActivityView[] }>("GET", `/tasks/${taskId}/activity`)).items;
	}

	async watchTask(taskId: number, watching = true): Promise<number[]> {
		return (await this.request<{ watcherIds: number[] }>(watching ? "POST" : "DELETE", `/tasks/${taskId}/watch`, watching ? { body: {} } : {})).watcherIds;
	}

	async applyTriage(taskId: number, version?: number): Promise<TaskView> {
		return (await this.request<{ task: TaskView }>("POST", `/tasks/${taskId}/triage/apply`, { body: version !== undefined ? { version } : {} })).task;
	}

	notifications(query: { unread?: boolean; cursor?: string; limit?: number } = {}): Promise<NotificationPage> {
		return this.request<NotificationPage>("GET", "/notifications", { query: { ...query } });
	}

	/** Marks one notification read and answers with it and the unread count left. */
	markNotificationRead(notificationId: number): Promise<{ notification: NotificationView; unread: number }> {
		return this.request("POST", `/notifications/${notificationId}/read`, { body: {} });
	}

	markAllNotificationsRead(): Promise<{ read: number; unread: number }> {
		return this.request("POST", "/notifications/read-all", { body: {} });
	}

	notificationPreferences(): Promise<NotificationPreferences> {
		return this.request<NotificationPreferences>("GET", "/notifications/preferences");
	}

	setNotificationPreferences(change: PreferencesChange): Promise<NotificationPreferences> {
		return this.request<NotificationPreferences>("PUT", "/notifications/preferences", { body: change });
	}

	/** The server's VAPID public key, for `PushManager.subscribe({ applicationServerKey })`. */
	async pushKey(): Promise<string> {
		return (await this.request<{ publicKey: string }>("GET", "/notifications/push/key")).publicKey;
	}

	async subscribePush(subscription: PushSubscriptionInput): Promise<void> {
		await this.request("POST", "/notifications/push/subscriptions", { body: subscription });
	}

	async unsubscribePush(endpoint: string): Promise<void> {
		await this.request("DELETE", "/notifications/push/subscriptions", { body: { endpoint } });
	}

	/** A valid access token, refreshed first when it is about to expire (or when asked to). */
	async getAccessToken(options: { forceRefresh?: boolean } = {}): Promise<string> {
		if (this.refreshing) return (await this.refreshing).accessToken;
		const session = await this.requireSession();
		const leeway = Math.min(this.leewayMs, (session.expiresIn * 1000) / 4);
		if (options.forceRefresh || session.accessTokenExpiresAt - leeway <= this.now()) {
			return (await this.startRefresh()).accessToken;
		}
		return session.accessToken;
	}

	/** Tokens for the socket bridge: a fresh one after the server refused the last one as expired. */
	tokenProvider(): AccessTokenProvider {
		return ({ refused }) =>
			refused?.error.type === "TOKEN_EXPIRED" || refused?.error.type === "TOKEN_EXPIRING"
				? this.renewAfterRejection(refused.token)
				: this.getAccessToken();
	}

	/** Any route of the API, e.g. the ones this client has no method for yet. */
	async request<T>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
		if (options.auth === false) return this.exchange<T>(method, path, options, undefined);
		const token = await this.getAccessToken();
		try {
			return await this.exchange<T>(method, path, options, token);
		} catch (err) {
			if (!(err instanceof ColonyApiError) || err.status !== 401 || err.type !== "TOKEN_EXPIRED") throw err;
			// The server's clock decides: expired there means refresh, whatever this client's clock says.
			return this.exchange<T>(method, path, options, await this.renewAfterRejection(token));
		}
	}

	private async exchange<T>(method: HttpMethod, path: string, options: RequestOptions, token: string | undefined): Promise<T> {
		const headers: Record<string, string> = { accept: "application/json" };
		if (token) headers.authorization = `Bearer ${token}`;
		let body: string | undefined;
		if (options.body !== undefined) {
			body = JSON.stringify(options.body);
			headers["content-type"] = "application/json";
		}
		const timeoutMs = options.timeoutMs ?? this.timeoutMs;
		const controller = new AbortController();
		const timer = setTimeout(() => controller.abort(), timeoutMs);
		let status: number;
		let text: string;
		try {
			const res = await this.fetchFn(this.baseUrl + path + queryString(options.query), {
				method,
				headers,
				body,
				signal: controller.signal,
			});
			status = res.status;
			text = await res.text();
		} catch (err) {
			if (controller.signal.aborted) {
				throw new ColonyApiError(0, "TIMEOUT", `${method} ${path} got no answer within ${timeoutMs} ms`);
			}
			throw new ColonyApiError(0, "NETWORK_ERROR", `${method} ${path} failed: ${(err as Error).message}`);
		} finally {
			clearTimeout(timer);
		}
		let parsed: unknown = null;
		if (text) {
			try {
				parsed = JSON.parse(text);
			} catch {
				// A proxy's HTML error page, for instance: the status still says what happened.
				if (status < 400) throw new ColonyApiError(status, "INVALID_RESPONSE", `${method} ${path} answered with no JSON`);
			}
		}
		if (status >= 400) throw ColonyApiError.fromBody(parsed, status);
		return parsed as T;
	}

	/** A token to retry with after `rejected` was refused as expired; several callers share one refresh. */
	private async renewAfterRejection(rejected: string): Promise<string> {
		if (this.refreshing) return (await this.refreshing).accessToken;
		const session = await this.requireSession();
		// Another call refreshed while this one was on the way: its token is the fresh one.
		if (session.accessToken !== rejected) return session.accessToken;
		return (await this.startRefresh()).accessToken;
	}

	private startRefresh(): Promise<StoredSession> {
		this.refreshing ??= this.refreshNow().finally(() => {
			this.refreshing = null;
		});
		return this.refreshing;
	}

	private refreshNow(): Promise<StoredSession> {
		return this.refreshLock ? this.refreshLock(() => this.refreshShared()) : this.refreshWith(this.requireSession());
	}

	/** Under the shared lock: another client may have rotated the refresh token since this one read it. */
	private async refreshShared(): Promise<StoredSession> {
		const stored = (await this.tokens.get()) ?? null;
		if (!stored) {
			// Signed out elsewhere.
			this.session = null;
			const ended = new ColonyApiError(401, "NOT_SIGNED_IN", "Signed out in another window");
			this.onSessionEnded?.(ended);
			throw ended;
		}
		return this.refreshWith(Promise.resolve(stored));
	}

	private async refreshWith(current: Promise<StoredSession>): Promise<StoredSession> {
		const session = await current;
		let pair: TokenPair;
		try {
			pair = await this.exchange<TokenPair>("POST", "/auth/refresh", { body: { refreshToken: session.refreshToken } }, undefined);
		} catch (err) {
			// A refused refresh token ends the session; a network failure or an outage leaves it for a retry.
			if (err instanceof ColonyApiError && err.status >= 400 && err.status < 500 && err.status !== 429) {
				await this.forgetSession();
				this.onSessionEnded?.(err);
			}
			throw err;
		}
		return this.keepSession(pair);
	}

	private async keepSession(pair: TokenPair): Promise<StoredSession> {
		const session: StoredSession = {
			accessToken: pair.accessToken,
			refreshToken: pair.refreshToken,
			accessTokenExpiresAt: this.now() + pair.expiresIn * 1000,
			expiresIn: pair.expiresIn,
		};
		this.session = session;
		await this.tokens.set(session);
		return session;
	}

	private async forgetSession(): Promise<void> {
		this.session = null;
		await this.tokens.clear();
	}

	private async currentSession(): Promise<StoredSession | null> {
		if (this.session === undefined) {
			const stored = (await this.tokens.get()) ?? null;
			// A login may have finished while the storage was being read.
			if (this.session === undefined) this.session = stored;
		}
		return this.session;
	}

	private async requireSession(): Promise<StoredSession> {
		const session = await this.currentSession();
		if (!session) throw new ColonyApiError(401, "NOT_SIGNED_IN", "Sign in first");
		return session;
	}
}

function queryString(query: RequestOptions["query"]): string {
	if (!query) return "";
	// Built by hand: URLSearchParams is incomplete on some React Native versions.
	const pairs = Object.entries(query)
		.filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined)
		.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
	return pairs.length > 0 ? `?${pairs.join("&")}` : "";
}

export { ColonyApiError, type ErrorBody } from "./errors";
export {
	ColonyRestClient,
	type ChannelListItem,
	type ColonyRestClientOptions,
	type FetchInit,
	type FetchLike,
	type FetchResponse,
	type HistoryQuery,
	type HttpMethod,
	type MessagePage,
	type NewChannel,
	type NewProject,
	type NewTask,
	type PreferencesChange,
	type RegisterInput,
	type RequestOptions,
	type TaskChange,
	type TaskPage,
	type TaskQuery,
} from "./rest-client";
export {
	MAX_MESSAGE_LENGTH,
	WebSocketBridge,
	type AccessTokenProvider,
	type BridgeEventName,
	type BridgeEvents,
	type OutgoingMessage,
	type PresenceStatus,
	type SendResult,
	type TokenRequest,
	type WebSocketBridgeOptions,
} from "./websocket-bridge";
export type { OutboxItem } from "./outbox";
export {
	MemoryOutboxStorage,
	MemoryTokenStorage,
	type MaybePromise,
	type OutboxStorage,
	type StoredSession,
	type TokenStorage,
} from "./storage";
export type { AiDeltaEvent, AiDoneEvent, ChannelType, ChannelView, ChatTypingEvent, MessageView, ReactionView, UnreadView } from "../types/chat";
export type { PublicUser, TokenPair } from "../types/users";
export type { ActivityView, CommentView, ProjectRole, ProjectView, TaskPriority, TaskView, TriageView, Workflow, WorkflowState, WorkflowTransition } from "../types/tasks";
export type { ChannelChoice, NotificationPage, NotificationPreferences, NotificationPriority, NotificationType, NotificationView, PushSubscriptionInput } from "../types/notifications";

import type { Errors, ServiceBroker } from "moleculer";
import type { Readable } from "node:stream";
import { Op, UniqueConstraintError } from "sequelize";
import { channelRoom, pushToSockets } from "../../broker/realtime";
import type { AiChatChunk, ChatMessage } from "../../types/ai";
import type { AiDeltaEvent, AiDoneEvent, AssistantJob, AssistantRepliedEvent, MessageView } from "../../types/chat";
import type { AssistantAccount, SessionUser } from "../../types/users";
import type { ChannelRow, ChatTables, MessageRow } from "./tables";

/** The durable queue (DESIGN §3) the chat assistant's jobs go through. */
export const ASSISTANT_JOBS = "chat.assistant.jobs";

export interface AssistantSettings {
	/** Messages of the thread (or of the channel's main line) the model is shown. */
	contextMessages: number;
	/** Characters of context at most, oldest messages dropped first. */
	contextChars: number;
	/** Tries on other hosts when a host fails; after the last one the assistant says it is unavailable. */
	attempts: number;
	/** Waits before the second and later tries. */
	retryDelaysMs: number[];
	/** A host that sends nothing for this long is given up on. */
	idleTimeoutMs: number;
	/** Pieces of the answer are sent to sockets at most this often. */
	deltaIntervalMs: number;
}

export const DEFAULT_ASSISTANT_SETTINGS: AssistantSettings = {
	contextMessages: 20,
	contextChars: 16_000,
	attempts: 3,
	retryDelaysMs: [500, 2_000],
	idleTimeoutMs: 30_000,
	deltaIntervalMs: 50,
};

/** What the assistant needs of the chat service it lives in. */
export interface AssistantHost {
	broker: ServiceBroker;
	logger: ServiceBroker["logger"];
	tables: ChatTables;
	open(row: MessageRow): string | null;
	describeChannel(row: ChannelRow): { name: string | null };
	requireChannel(id: number): Promise<ChannelRow>;
	membership(channelId: number, userId: number): Promise<unknown>;
	findByClientMsgId(userId: number, clientMsgId: string): Promise<MessageRow | null>;
	/** Stores a message as `author` and tells the channel, as a send does. */
	postAs(author: number, channel: ChannelRow, text: string, parentId: number | null, clientMsgId: string): Promise<MessageView>;
}

/** The NATS JetStream message a job came in; absent on the in-process queue. */
interface QueueMessage {
	working?(): void;
}

type Session = Omit<SessionUser, "tokenId" | "tokenExpiresAt" | "sessionId">;

/** Why an answer could not be had, in words for the channel. */
class NoAnswer extends Error {}

const replyKey = (messageId: number) => `ai-reply:${messageId}`;

/**
 * The chat assistant (DESIGN §3): a message mentioning it, or a DM to it, queues a durable job; a chat node takes
 * the job, asks `ai.chat` for a streamed answer in the requester's name (their AI policy, limits and fair share),
 * sends the pieces to the channel as `ai.delta`, and stores the answer as the assistant's message. A host that
 * fails mid-answer is replaced by another, the answer starting over (a higher `attempt` tells clients to drop
 * what they showed). A job taken twice (the chat node died, JetStream redelivered) is answered once.
 */
export class ChatAssistant {
	private account: AssistantAccount | null = null;

	constructor(
		private readonly host: AssistantHost,
		private readonly settings: AssistantSettings,
	) {}

	/** The assistant's account; asked of the users service once. */
	async assistant(): Promise<AssistantAccount> {
		this.account ??= await this.host.broker.call<AssistantAccount>("users.assistant");
		return this.account;
	}

	/** Queues a job when `message` asks the assistant: it mentions it, or it is in a DM with it. */
	async queueIfAsked(channel: ChannelRow, message: MessageView, requester: number): Promise<void> {
		if (message.mentions.length === 0 && channel.type !== "direct") return;
		const assistant = await this.assistant();
		if (requester === assistant.id) return;
		const inDirect = channel.type === "direct" && (channel.directKey ?? "").split(":").map(Number).includes(assistant.id);
		if (!inDirect && !message.mentions.includes(assistant.id)) return;
		const job: AssistantJob = { messageId: message.id, channelId: channel.id, requesterId: requester };
		try {
			await this.host.broker.sendToChannel(ASSISTANT_JOBS, job);
		} catch (err) {
			// The queue is down: say so in the channel rather than leave the question unanswered.
			this.host.logger.warn(`The assistant's queue refused a job: ${(err as Error).message}`);
			await this.answerWith(job, channel, message.parentId, "The AI assistant is unavailable right now (its queue is down). Please ask again in a moment.");
		}
	}

	/** Runs a queued job; throws only when the answer could not be stored, so the queue brings the job back. */
	async answer(job: AssistantJob, queued?: QueueMessage): Promise<void> {
		const assistant = await this.assistant();
		if (await this.host.findByClientMsgId(assistant.id, replyKey(job.messageId))) return;
		const trigger = (await this.host.tables.messages.findByPk(job.messageId))?.get({ plain: true });
		if (!trigger || trigger.deletedAt || trigger.channelId !== job.channelId) return;
		const channel = await this.host.requireChannel(job.channelId);
		// The requester may have left a private channel since: the assistant does not read it for them.
		if (channel.type !== "public" && !(await this.host.membership(channel.id, job.requesterId))) return;
		const requester = await this.host.broker.call<Session | null, { id: number }>("users.session", { id: job.requesterId });
		if (!requester) return;

		// Long answers outlive JetStream's ack wait: tell it the job is still being worked on.
		const keepAlive = setInterval(() => queued?.working?.(), 5_000);
		let text: string;
		try {
			const messages = await this.conversation(trigger, channel, requester, assistant);
			text = await this.streamAnswer(job, messages, requester);
		} catch (err) {
			text = err instanceof NoAnswer ? err.message : "The AI assistant could not answer this time. Please ask again.";
			if (!(err instanceof NoAnswer)) this.host.logger.error("The assistant failed on a job", err);
		} finally {
			clearInterval(keepAlive);
		}
		await this.answerWith(job, channel, trigger.parentId, text);
	}

	/** Stores the answer (once, whoever gets there first) and tells the channel it is done. */
	private async answerWith(job: AssistantJob, channel: ChannelRow, parentId: number | null, text: string): Promise<void> {
		const assistant = await this.assistant();
		let message: MessageView;
		try {
			message = await this.host.postAs(assistant.id, channel, text, parentId, replyKey(job.messageId));
		} catch (err) {
			// Another node answered the same job a moment earlier.
			if (err instanceof UniqueConstraintError) return;
			throw err;
		}
		const done: AiDoneEvent = { channelId: channel.id, replyTo: job.messageId, message };
		await pushToSockets(this.host.broker, { rooms: [channelRoom(channel.id)], event: "ai.done", data: done });
		this.host.broker.emit<AssistantRepliedEvent>("chat.assistant.replied", { ...done, requesterId: job.requesterId });
	}

	/** The thread's recent messages (or the channel's main line) as the model's conversation. */
	private async conversation(trigger: MessageRow, channel: ChannelRow, requester: Session, assistant: AssistantAccount): Promise<ChatMessage[]> {
		const { messages } = this.host.tables;
		const recent = await messages.findAll({
			where: { channelId: trigger.channelId, parentId: trigger.parentId ?? { [Op.is]: null }, id: { [Op.lte]: trigger.id }, deletedAt: { [Op.is]: null } },
			order: [["id", "DESC"]],
			limit: this.settings.contextMessages,
		});
		const rows = recent.map((row) => row.get({ plain: true })).reverse();
		if (trigger.parentId) {
			const root = (await messages.findByPk(trigger.parentId))?.get({ plain: true });
			if (root && !root.deletedAt) rows.unshift(root);
		}
		const names = await this.namesOf([...new Set(rows.map((row) => row.userId))]);
		const turns: ChatMessage[] = [];
		let budget = this.settings.contextChars;
		for (const row of rows.reverse()) {
			const text = this.host.open(row) ?? "";
			const content = row.userId === assistant.id ? text : `${names.get(row.userId) ?? "someone"}: ${text}`;
			if (content.length > budget && turns.length > 0) break;
			budget -= content.length;
			turns.unshift({ role: row.userId === assistant.id ? "assistant" : "user", content: content.slice(0, this.settings.contextChars) });
		}
		const where = channel.type === "direct" ? "a direct conversation" : `the channel #${this.host.describeChannel(channel).name ?? channel.id}`;
		const system =
			`You are ${assistant.displayName}, the assistant of a team's chat. You are answering ${requester.displayName} in ${where}. ` +
			"Messages from people start with the sender's name. Answer the last message helpfully and concisely, in Markdown.";
		return [{ role: "system", content: system }, ...turns];
	}

	private async namesOf(userIds: number[]): Promise<Map<number, string>> {
		const sessions = await Promise.all(userIds.map((id) => this.host.broker.call<Session | null, { id: number }>("users.session", { id }).catch(() => null)));
		return new Map(sessions.filter((session): session is Session => session !== null).map((session) => [session.id, session.displayName]));
	}

	/** Tries hosts until one answers to the end; answers the whole text. */
	private async streamAnswer(job: AssistantJob, messages: ChatMessage[], requester: Session): Promise<string> {
		let lastProblem = "";
		for (let attempt = 1; attempt <= this.settings.attempts; attempt++) {
			if (attempt > 1) await sleep(this.settings.retryDelaysMs[Math.min(attempt - 2, this.settings.retryDelaysMs.length - 1)] ?? 0);
			try {
				return await this.streamOnce(job, messages, requester, attempt);
			} catch (err) {
				const refusal = refusalOf(err as Errors.MoleculerError);
				if (refusal) throw new NoAnswer(refusal);
				lastProblem = (err as Error).message;
				this.host.logger.warn(`The assistant's attempt ${attempt} on message ${job.messageId} failed: ${lastProblem}`);
			}
		}
		throw new NoAnswer(`The AI assistant is unavailable right now: no AI host could answer (${lastProblem}). Please ask again in a moment.`);
	}

	private async streamOnce(job: AssistantJob, messages: ChatMessage[], requester: Session, attempt: number): Promise<string> {
		const session: SessionUser = { ...requester, sessionId: `assistant:${job.messageId}`, tokenId: "", tokenExpiresAt: 0 };
		const stream = await this.host.broker.call<Readable, { messages: ChatMessage[]; stream: true }>("ai.chat", { messages, stream: true }, { meta: { user: session } });
		const room = channelRoom(job.channelId);
		let text = "";
		let unsent = "";
		let lastSent = 0;
		const flush = async () => {
			if (!unsent) return;
			const delta: AiDeltaEvent = { channelId: job.channelId, replyTo: job.messageId, delta: unsent, attempt };
			unsent = "";
			lastSent = Date.now();
			await pushToSockets(this.host.broker, { rooms: [room], event: "ai.delta", data: delta });
		};
		for await (const chunk of withIdleTimeout(readLines(stream), this.settings.idleTimeoutMs, () => stream.destroy())) {
			const piece = JSON.parse(chunk) as AiChatChunk | { error: string };
			if ("error" in piece) throw new Error(piece.error);
			text += piece.delta;
			unsent += piece.delta;
			if (piece.done) {
				await flush();
				return text;
			}
			if (Date.now() - lastSent >= this.settings.deltaIntervalMs) await flush();
		}
		throw new Error("The answer ended early");
	}
}

/** A refusal that another host would repeat: the requester's limits or policy. */
function refusalOf(err: Errors.MoleculerError): string | null {
	if (err.code === 429) {
		const retryAfter = (err.data as { retryAfter?: number } | undefined)?.retryAfter;
		return `You have reached your AI request limit${retryAfter ? `; try again in ${retryAfter} s` : ""}.`;
	}
	if (err.code === 403) return `The AI assistant may not answer you: ${err.message}.`;
	if (err.code === 422 || (err.code === 400 && err.type !== "AI_STREAM_FAILED")) return `The AI assistant could not take this question: ${err.message}.`;
	return null;
}

async function* readLines(stream: Readable): AsyncGenerator<string> {
	let buffered = "";
	for await (const chunk of stream) {
		buffered += typeof chunk === "string" ? chunk : (chunk as Buffer).toString("utf8");
		let newline = buffered.indexOf("\n");
		while (newline >= 0) {
			const line = buffered.slice(0, newline).trim();
			buffered = buffered.slice(newline + 1);
			if (line) yield line;
			newline = buffered.indexOf("\n");
		}
	}
	if (buffered.trim()) yield buffered.trim();
}

/** Ends with an error when `source` sends nothing for `idleMs` (a host that hangs mid-answer). */
async function* withIdleTimeout<T>(source: AsyncGenerator<T>, idleMs: number, onIdle: () => void): AsyncGenerator<T> {
	while (true) {
		let timer: NodeJS.Timeout | undefined;
		const idle = new Promise<never>((_, reject) => {
			timer = setTimeout(() => {
				onIdle();
				reject(new Error(`The AI host sent nothing for ${idleMs} ms`));
			}, idleMs);
		});
		try {
			const next = await Promise.race([source.next(), idle]);
			if (next.done) return;
			yield next.value;
		} finally {
			clearTimeout(timer);
		}
	}
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

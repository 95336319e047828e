import type { Context, ServiceSchema } from "moleculer";
import { Op, type Transaction } from "sequelize";
import { BadRequestError, ForbiddenError, NotFoundError } from "../../broker/errors";
import { failureLog, type FailureLog } from "../../broker/failures";
import { registerReadinessProbe, unregisterReadinessProbe } from "../../broker/readiness";
import { loadSecrets } from "../../lib/config";
import { FieldCipher } from "../../lib/crypto/field-cipher";
import { RedisConnection } from "../../lib/state/redis";
import { DEFAULT_EXACT_LIMIT } from "../../lib/vector/adaptive-index";
import { fromFloat32Blob, toFloat32Blob } from "../../lib/vector/float32-blob";
import { idParam, PLAIN_TEXT, PRINTABLE } from "../../lib/validation";
import { AiHostsMixin } from "../../mixins/ai-hosts.mixin";
import { AssistantAwareMixin, type AssistantAwareMethods, type AssistantAwareState } from "../../mixins/assistant-aware.mixin";
import { createDbMixin, type DbServiceThis, type DbSettings } from "../../mixins/db.mixin";
import type { AiChatAnswer, AiChatParams, AiEmbedAnswer, AiEmbedParams } from "../../types/ai";
import type { ChannelType, ChatMessageEvent } from "../../types/chat";
import type { AskAnswer, DocumentView, KnowledgeChunksChangedEvent, KnowledgeDocumentEvent, KnowledgeHit } from "../../types/knowledge";
import type { CallerMeta } from "../../types/users";
import { KeyedBatcher } from "./batcher";
import { ChunkIndex, isReadable, type IndexedChunk, type RankedChunk } from "./chunk-index";
import { chunkText, DEFAULT_CHUNKING, type TextChunk } from "./chunking";
import { AiUnavailableError, isServiceUnavailable } from "./errors";
import { knowledgeMigrations } from "./migrations";
import { askMessages, citedRefs, NOTHING_FOUND } from "./prompt";
import { RedisVectors } from "./redis-vectors";
import { defineKnowledgeTables, type ChunkRow, type DocumentRow, type KnowledgeTables } from "./tables";
import { channelHit, documentHit, documentView, sectionOf } from "./views";

export interface KnowledgeSettings extends DbSettings {
	/** Index the messages of public and private channels as they are posted (`KNOWLEDGE_INDEX_CHAT=false`: off). */
	indexChat: boolean;
	/** Vectors are mirrored there, and searched there when the server has the search module. */
	redisUrl?: string;
	/** The models asked of `ai.embed` and `ai.chat`; unset, each `ai` node's default. */
	embedModel?: string;
	chatModel?: string;
	chunkSize: number;
	chunkOverlap: number;
	/** Chunks of one model searched exactly, in process; beyond that many, an HNSW graph. */
	exactSearchLimit: number;
	/** Chunks less similar to the question than this are not given to `ask`. */
	minScore: number;
	/** How many chunks `ask` gives the model unless asked for another number. */
	askChunks: number;
	/** Chat messages arriving within this time are embedded in one call. */
	chatBatchDelayMs: number;
	/** Embedding a long document, or an answer, takes longer than an ordinary call. */
	aiTimeoutMs: number;
}

/** A chat message waiting to be embedded. */
interface PendingMessage {
	messageId: number;
	channelId: number;
	text: string;
}

interface ListedChannel {
	id: number;
	type: ChannelType;
	name: string | null;
	member: boolean;
}

/** The channels a caller may read, with their names (for the titles of channel hits). */
type ReadableChannels = Map<number, string | null>;

interface Embedded {
	model: string;
	vectors: number[][];
}

interface KnowledgeState {
	/** The assistant's account, asked of the users service once: its answers are not sources. */
	cipher: FieldCipher;
	chunkIndex: ChunkIndex;
	redis?: RedisConnection;
	redisVectors?: RedisVectors;
	/** The Redis server ranks vectors itself (`FT.SEARCH … KNN`); the in-process index stays as its fallback. */
	searchInRedis: boolean;
	messageBatcher: KeyedBatcher<number, PendingMessage>;
	failures: FailureLog;
}

interface KnowledgeMethods {
	readableChannels(ctx: KnowledgeContext): Promise<ReadableChannels>;
	rank(ctx: KnowledgeContext, query: string, k: number, channels: ReadableChannels): Promise<RankedChunk[]>;
	nearest(model: string, vector: number[], k: number, readable: ReadonlySet<number>): Promise<RankedChunk[]>;
	hydrate(ranked: RankedChunk[], channels: ReadableChannels): Promise<KnowledgeHit[]>;
	requireDocument(id: number, channels: ReadableChannels): Promise<DocumentRow>;
	answerFrom(ctx: KnowledgeContext, question: string, hits: KnowledgeHit[]): Promise<AskAnswer>;
	storeDocument(document: NewDocument, chunks: TextChunk[], embedded: Embedded): Promise<{ document: DocumentRow; chunkIds: number[] }>;
	deleteDocument(documentId: number): Promise<ChunkKey[]>;
	callAi<T, P>(ctx: Context | undefined, action: string, params: P): Promise<T>;
	embed(texts: string[], ctx?: Context): Promise<Embedded>;
	insertChunks(rows: NewChunk[], transaction: Transaction): Promise<void>;
	indexChunks(ctx: Context | undefined, added: IndexedChunk[], removed: ChunkKey[]): Promise<void>;
	applyChunkChanges(event: KnowledgeChunksChangedEvent): Promise<void>;
	loadIndex(): Promise<void>;
	indexMessage(event: ChatMessageEvent): Promise<void>;
	forgetMessage(messageId: number): Promise<void>;
	embedMessages(items: PendingMessage[]): Promise<void>;
	removeMessageChunks(messageIds: number[]): Promise<void>;
	sealChunk(scope: string, text: string, headings: string[]): Pick<ChunkRow, "body" | "headingsSealed" | "digest" | "keyId">;
	digestOf(text: string): string;
	openChunk(row: ChunkRow): { text: string; headings: string[] };
	openTitle(row: Pick<DocumentRow, "titleSealed">): string;
}

type ChunkKey = Pick<ChunkRow, "id" | "model">;
type NewDocument = Pick<DocumentRow, "channelId" | "createdBy"> & { title: string; text: string };
type NewChunk = Omit<ChunkRow, "id" | "createdAt">;
type KnowledgeContext<P = unknown> = Context<P, CallerMeta>;

interface RankParams {
	q: string;
	k: number;
	/** The reader's channels, sorted: with the query and k, all a ranking depends on (and so its cache key). */
	channels: number[];
}

/** ai.embed takes at most this many inputs per call (types/ai.ts). */
const EMBED_BATCH = 256;
const SEARCH_CACHE_SECONDS = 30 * 60;
const LOAD_PAGE = 2_000;
/** Rows per INSERT and ids per IN list: within every database's limits (Oracle takes 1,000 ids, MariaDB 16 MB packets). */
const SQL_BATCH = 500;
const MAX_DOCUMENT_LENGTH = 500_000;
const id = idParam;

/** What is embedded for a document chunk: the title and headings give a short chunk its context. */
function embeddingInput(title: string, chunk: TextChunk): string {
	return [title, sectionOf(chunk.headings), chunk.text].filter(Boolean).join("\n\n");
}

/** A chunk's text is sealed with its document or message as associated data: copied elsewhere, it does not open. */
function chunkScope(row: Pick<ChunkRow, "source" | "documentId" | "messageId">): string {
	return row.source === "document" ? `document:${row.documentId}` : `message:${row.messageId}`;
}

function slices<T>(items: T[], size: number): T[][] {
	const result: T[][] = [];
	for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size));
	return result;
}

function indexedChunk(row: Pick<ChunkRow, "id" | "model" | "channelId" | "vector">): IndexedChunk {
	return { id: row.id, model: row.model, channelId: row.channelId, vector: fromFloat32Blob(row.vector) };
}

/**
 * Documents and chat messages split into chunks, embedded through `ai.embed`, found by cosine similarity, and
 * answered from with citations (DESIGN §3). A reader only ever gets chunks of documents and channels they may read.
 */
const KnowledgeService: ServiceSchema<KnowledgeSettings, KnowledgeMethods & AssistantAwareMethods, KnowledgeState & AssistantAwareState & DbServiceThis<KnowledgeTables>> = {
	name: "knowledge",
	// It calls ai.*: the AI strategies on its node need the hosts' heartbeats.
	mixins: [createDbMixin({ database: "knowledge", migrations: knowledgeMigrations, defineTables: defineKnowledgeTables }), AiHostsMixin, AssistantAwareMixin],
	settings: {
		rest: "/",
		indexChat: process.env.KNOWLEDGE_INDEX_CHAT !== "false",
		redisUrl: process.env.REDIS_URL,
		$secureSettings: ["redisUrl"],
		chunkSize: DEFAULT_CHUNKING.size,
		chunkOverlap: DEFAULT_CHUNKING.overlap,
		exactSearchLimit: DEFAULT_EXACT_LIMIT,
		minScore: 0.3,
		askChunks: 5,
		chatBatchDelayMs: 25,
		aiTimeoutMs: 60_000,
	},

	actions: {
		addDocument: {
			rest: "POST /knowledge/documents",
			access: "knowledge:write",
			idempotent: false,
			params: {
				$$strict: true,
				title: { type: "string", trim: true, min: 1, max: 200, pattern: PLAIN_TEXT },
				text: { type: "string", min: 1, max: MAX_DOCUMENT_LENGTH, pattern: PRINTABLE },
				channelId: { ...id, optional: true },
			},
			async handler(ctx: KnowledgeContext<{ title: string; text: string; channelId?: number }>) {
				const caller = ctx.meta.user;
				const { title, text } = ctx.params;
				const channelId = ctx.params.channelId ?? null;
				// Only a channel the uploader can read may own the document (403 or 404 from chat otherwise).
				if (channelId !== null) await ctx.call("chat.getChannel", { id: channelId });
				const chunks = chunkText(text, { size: this.settings.chunkSize, overlap: this.settings.chunkOverlap });
				if (chunks.length === 0) throw new BadRequestError("The document has no text to index", "EMPTY_DOCUMENT");
				const embedded = await this.embed(chunks.map((chunk) => embeddingInput(title, chunk)), ctx);
				const { document, chunkIds } = await this.storeDocument({ title, text, channelId, createdBy: caller.id }, chunks, embedded);
				const { model, vectors } = embedded;
				await this.indexChunks(ctx, chunkIds.map((chunkId, position) => ({ id: chunkId, model, channelId, vector: vectors[position] })), []);
				const view = documentView(document, title);
				// Cached searches must find the new document at once.
				await this.entityChanged("created", view, ctx);
				ctx.emit<KnowledgeDocumentEvent>("knowledge.document.created", { document: view, by: caller.id });
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/v1/knowledge/documents/${view.id}`;
				return { document: view };
			},
		},

		getDocument: {
			rest: "GET /knowledge/documents/:id",
			access: "knowledge:read",
			idempotent: true,
			params: { $$strict: true, id },
			async handler(ctx: KnowledgeContext<{ id: number }>): Promise<{ document: DocumentView }> {
				const row = await this.requireDocument(ctx.params.id, await this.readableChannels(ctx));
				return { document: documentView(row, this.openTitle(row)) };
			},
		},

		listDocuments: {
			rest: "GET /knowledge/documents",
			access: "knowledge:read",
			idempotent: true,
			params: {
				$$strict: true,
				before: { ...id, optional: true },
				limit: { type: "number", integer: true, min: 1, max: 100, convert: true, default: 50 },
			},
			async handler(ctx: KnowledgeContext<{ before?: number; limit: number }>): Promise<{ items: DocumentView[]; nextCursor: string | null }> {
				const channels = await this.readableChannels(ctx);
				const where: Record<string | symbol, unknown> = {
					[Op.or]: [{ channelId: { [Op.is]: null } }, { channelId: { [Op.in]: [...channels.keys()] } }],
				};
				if (ctx.params.before) where.id = { [Op.lt]: ctx.params.before };
				const rows = await this.tables.documents.findAll({
					where,
					attributes: { exclude: ["textSealed"] },
					order: [["id", "DESC"]],
					limit: ctx.params.limit + 1,
				});
				const page = rows.slice(0, ctx.params.limit).map((row) => row.get({ plain: true }));
				return {
					items: page.map((row) => documentView(row, this.openTitle(row))),
					nextCursor: rows.length > ctx.params.limit ? String(page[page.length - 1].id) : null,
				};
			},
		},

		removeDocument: {
			rest: "DELETE /knowledge/documents/:id",
			access: "knowledge:write",
			// A second run finds the document gone (404): nothing more is removed.
			idempotent: true,
			params: { $$strict: true, id },
			async handler(ctx: KnowledgeContext<{ id: number }>): Promise<{ document: DocumentView }> {
				const caller = ctx.meta.user;
				const row = await this.requireDocument(ctx.params.id, await this.readableChannels(ctx));
				// What the assistant knows is curated by whoever administers it: the author or an `ai:admin`.
				if (row.createdBy !== caller.id && !caller.permissions.includes("ai:admin")) {
					throw new ForbiddenError("Only the author or an AI admin can remove a document", "NOT_AUTHOR");
				}
				await this.indexChunks(ctx, [], await this.deleteDocument(row.id));
				const view = documentView(row, this.openTitle(row));
				await this.entityChanged("removed", view, ctx);
				ctx.emit<KnowledgeDocumentEvent>("knowledge.document.removed", { document: view, by: caller.id });
				return { document: view };
			},
		},

		search: {
			rest: "GET /knowledge/search",
			access: "knowledge:read",
			idempotent: true,
			params: {
				$$strict: true,
				q: { type: "string", trim: true, min: 1, max: 1_000, pattern: PRINTABLE },
				k: { type: "number", integer: true, min: 1, max: 50, convert: true, default: 10 },
			},
			async handler(ctx: KnowledgeContext<{ q: string; k: number }>): Promise<{ items: KnowledgeHit[] }> {
				const channels = await this.readableChannels(ctx);
				const ranked = await this.rank(ctx, ctx.params.q, ctx.params.k, channels);
				return { items: await this.hydrate(ranked, channels) };
			},
		},

		ask: {
			rest: "POST /ai/ask",
			access: "ai:use",
			// Asking again changes nothing: it costs the GPU another answer, no more.
			idempotent: true,
			params: {
				$$strict: true,
				question: { type: "string", trim: true, min: 1, max: 2_000, pattern: PRINTABLE },
				k: { type: "number", integer: true, min: 1, max: 10, optional: true },
			},
			async handler(ctx: KnowledgeContext<{ question: string; k?: number }>): Promise<AskAnswer> {
				if (!ctx.meta.user.permissions.includes("knowledge:read")) {
					throw new ForbiddenError("You need the 'knowledge:read' permission", "FORBIDDEN", { permission: "knowledge:read" });
				}
				const { question } = ctx.params;
				const channels = await this.readableChannels(ctx);
				const ranked = await this.rank(ctx, question, ctx.params.k ?? this.settings.askChunks, channels);
				const hits = await this.hydrate(ranked.filter((chunk) => chunk.score >= this.settings.minScore), channels);
				// Nothing to answer from: the model is not asked, so it cannot make something up.
				if (hits.length === 0) return { answer: NOTHING_FOUND, citations: [] };
				return this.answerFrom(ctx, question, hits);
			},
		},

		/** The nearest readable chunks to a query; cached 30 minutes by query, k and the reader's channels. */
		rank: {
			visibility: "private",
			idempotent: true,
			cache: { keys: ["q", "k", "channels"], ttl: SEARCH_CACHE_SECONDS },
			params: {
				$$strict: true,
				q: { type: "string" },
				k: { type: "number", integer: true, positive: true },
				channels: { type: "array", items: { type: "number", integer: true } },
			},
			async handler(ctx: KnowledgeContext<RankParams>): Promise<RankedChunk[]> {
				const { model, vectors } = await this.embed([ctx.params.q], ctx);
				return this.nearest(model, vectors[0], ctx.params.k, new Set(ctx.params.channels));
			},
		},
	},

	events: {
		"chat.message.created": {
			handler(ctx: Context<ChatMessageEvent>) {
				return this.indexMessage(ctx.params);
			},
		},
		"chat.message.updated": {
			handler(ctx: Context<ChatMessageEvent>) {
				// An edit may take back what was said: with indexing switched off since, the old text still goes.
				return this.settings.indexChat ? this.indexMessage(ctx.params) : this.forgetMessage(ctx.params.message.id);
			},
		},
		"chat.message.deleted": {
			handler(ctx: Context<ChatMessageEvent>) {
				return this.forgetMessage(ctx.params.message.id);
			},
		},
		"knowledge.chunks.changed": {
			handler(ctx: Context<KnowledgeChunksChangedEvent>) {
				// The node that made the change has indexed it already.
				if (ctx.nodeID === this.broker.nodeID) return;
				return this.applyChunkChanges(ctx.params);
			},
		},
	},

	methods: {
		async readableChannels(ctx: KnowledgeContext) {
			let listed: { items: ListedChannel[] };
			try {
				listed = await ctx.call<{ items: ListedChannel[] }, Record<string, never>>("chat.listChannels", {}, { meta: { user: ctx.meta.user } });
			} catch (err) {
				if (!isServiceUnavailable(err)) throw err;
				// Without chat no channel can be vouched for: only documents of no channel are shown meanwhile.
				this.failures.report("knowledge: readable channels", err);
				return new Map();
			}
			return new Map(listed.items.filter((channel) => channel.type === "public" || channel.member).map((channel) => [channel.id, channel.name]));
		},

		async rank(ctx: KnowledgeContext, query: string, k: number, channels: ReadableChannels) {
			const params: RankParams = { q: query, k, channels: [...channels.keys()].sort((a, b) => a - b) };
			return (await this.actions.rank(params, { parentCtx: ctx })) as RankedChunk[];
		},

		async nearest(model: string, vector: number[], k: number, readable: ReadonlySet<number>) {
			if (this.searchInRedis && this.redisVectors) {
				try {
					return await this.redisVectors.search(model, vector, k, readable);
				} catch (err) {
					this.failures.report("knowledge: redis vector search", err);
				}
			}
			return this.chunkIndex.search(model, vector, k, readable);
		},

		/** The ranked chunks as hits; a chunk removed since it was ranked (or cached) is left out. */
		async hydrate(ranked: RankedChunk[], channels: ReadableChannels) {
			if (ranked.length === 0) return [];
			const rows = await this.tables.chunks.findAll({
				where: { id: { [Op.in]: ranked.map((chunk) => chunk.id) } },
				attributes: { exclude: ["vector"] },
			});
			const chunks = new Map(rows.map((row) => row.get({ plain: true })).map((row) => [row.id, row] as const));
			const documentIds = [...new Set([...chunks.values()].map((chunk) => chunk.documentId).filter((documentId) => documentId !== null))];
			const documents = documentIds.length
				? await this.tables.documents.findAll({ where: { id: { [Op.in]: documentIds } }, attributes: ["id", "titleSealed"] })
				: [];
			const titles = new Map(documents.map((row) => row.get({ plain: true })).map((row) => [row.id, this.openTitle(row)] as const));
			const readable = new Set(channels.keys());
			return ranked.flatMap(({ id: chunkId, score }): KnowledgeHit[] => {
				const row = chunks.get(chunkId);
				// Checked again here, against the rows themselves: a hit is never shown on the index's word alone.
				if (!row || !isReadable(row.channelId, readable)) return [];
				const opened = this.openChunk(row);
				if (row.source === "channel") return [channelHit(row, opened.text, channels.get(row.channelId!) ?? null, score)];
				const title = titles.get(row.documentId!);
				return title === undefined ? [] : [documentHit(row, { ...opened, title }, score)];
			});
		},

		/** The document, if the caller may read it; one they may not is answered as missing. */
		async requireDocument(documentId: number, channels: ReadableChannels) {
			const row = await this.tables.documents.findByPk(documentId, { attributes: { exclude: ["textSealed"] } });
			const document = row ? row.get({ plain: true }) : null;
			if (!document || (document.channelId !== null && !channels.has(document.channelId))) {
				throw new NotFoundError(`Document ${documentId} not found`, "DOCUMENT_NOT_FOUND", { id: documentId });
			}
			return document;
		},

		async answerFrom(ctx: KnowledgeContext, question: string, hits: KnowledgeHit[]) {
			const sources = hits.map((hit, i) => ({ ref: i + 1, title: hit.title, section: hit.documentId === null ? null : hit.section, text: hit.chunk }));
			const reply = await this.callAi<AiChatAnswer, AiChatParams>(ctx, "ai.chat", {
				messages: askMessages(question, sources),
				...(this.settings.chatModel ? { model: this.settings.chatModel } : {}),
				stream: false,
				options: { temperature: 0 },
			});
			const answer = reply.message.content;
			const cited = citedRefs(answer, hits.length);
			// An answer that cites nothing still came from the sources it was given: those are its citations.
			const refs = cited.length > 0 ? cited : sources.map((source) => source.ref);
			return { answer, citations: refs.map((ref) => ({ ref, ...hits[ref - 1] })) };
		},

		/** The document and its chunks in one transaction; the chunks' ids in the order of their positions. */
		async storeDocument(document: NewDocument, chunks: TextChunk[], { model, vectors }: Embedded) {
			return this.transaction(async (transaction) => {
				const created = await this.tables.documents.create(
					{
						titleSealed: this.cipher.encrypt(document.title, "knowledge.document.title"),
						textSealed: this.cipher.encrypt(document.text, "knowledge.document.text"),
						keyId: this.cipher.currentKeyId,
						channelId: document.channelId,
						chunkCount: chunks.length,
						createdBy: document.createdBy,
					},
					{ transaction },
				);
				const row = created.get({ plain: true });
				await this.insertChunks(
					chunks.map((chunk, position) => ({
						source: "document",
						documentId: row.id,
						channelId: row.channelId,
						messageId: null,
						position,
						...this.sealChunk(`document:${row.id}`, chunk.text, chunk.headings),
						model,
						dimension: vectors[position].length,
						vector: toFloat32Blob(vectors[position]),
					})),
					transaction,
				);
				const inserted = await this.tables.chunks.findAll({ where: { documentId: row.id }, attributes: ["id"], order: [["position", "ASC"]], transaction });
				return { document: row, chunkIds: inserted.map((chunk) => chunk.get({ plain: true }).id) };
			});
		},

		/** The document and its chunks, gone together; answers which chunks left. */
		async deleteDocument(documentId: number) {
			return this.transaction(async (transaction) => {
				const chunks = await this.tables.chunks.findAll({ where: { documentId }, attributes: ["id", "model"], transaction });
				await this.tables.chunks.destroy({ where: { documentId }, transaction });
				await this.tables.documents.destroy({ where: { id: documentId }, transaction });
				return chunks.map((row) => row.get({ plain: true }));
			});
		},

		async callAi<T, P>(ctx: Context | undefined, action: string, params: P) {
			const options = { timeout: this.settings.aiTimeoutMs };
			try {
				return ctx ? await ctx.call<T, P>(action, params, options) : await this.broker.call<T, P>(action, params, options);
			} catch (err) {
				if (isServiceUnavailable(err)) throw new AiUnavailableError();
				throw err;
			}
		},

		async embed(texts: string[], ctx?: Context) {
			const embedded: Embedded = { model: "", vectors: [] };
			for (const input of slices(texts, EMBED_BATCH)) {
				const answer = await this.callAi<AiEmbedAnswer, AiEmbedParams>(ctx, "ai.embed", {
					input,
					...(this.settings.embedModel ? { model: this.settings.embedModel } : {}),
				});
				// Vectors of two models are not comparable: a batch answered by another model would be worthless.
				if (embedded.model && answer.model !== embedded.model) throw new AiUnavailableError("The embedding model changed while embedding; try again");
				embedded.model = answer.model;
				embedded.vectors.push(...answer.embeddings);
			}
			return embedded;
		},

		async insertChunks(rows: NewChunk[], transaction: Transaction) {
			for (const batch of slices(rows, SQL_BATCH)) {
				// The rows were built here from validated input: Sequelize's per-row validation adds nothing.
				await this.tables.chunks.bulkCreate(batch, { transaction, validate: false });
			}
		},

		/** Updates this node's index and Redis, and tells the other knowledge nodes (they read the rows themselves). */
		async indexChunks(ctx: Context | undefined, added: IndexedChunk[], removed: ChunkKey[]) {
			for (const chunk of removed) this.chunkIndex.remove(chunk.id);
			for (const chunk of added) this.chunkIndex.add(chunk);
			if (this.redisVectors) {
				await Promise.all([this.redisVectors.remove(removed), this.redisVectors.write(added, this.searchInRedis)]).catch((err: unknown) =>
					this.failures.report("knowledge: redis vectors", err),
				);
			}
			const event: KnowledgeChunksChangedEvent = { added: added.map((chunk) => chunk.id), removed: removed.map((chunk) => chunk.id) };
			const options = { groups: ["knowledge"] };
			if (ctx) await ctx.broadcast("knowledge.chunks.changed", event, options);
			else await this.broker.broadcast("knowledge.chunks.changed", event, options);
		},

		async applyChunkChanges(event: KnowledgeChunksChangedEvent) {
			for (const chunkId of event.removed) this.chunkIndex.remove(chunkId);
			for (const ids of slices(event.added, SQL_BATCH)) {
				const rows = await this.tables.chunks.findAll({ where: { id: { [Op.in]: ids } }, attributes: ["id", "model", "channelId", "vector"] });
				for (const row of rows) this.chunkIndex.add(indexedChunk(row.get({ plain: true })));
			}
		},

		/** Reads every vector from the database, the source of truth, into this node's index (and Redis's, if it searches). */
		async loadIndex() {
			let after = 0;
			for (;;) {
				const page = await this.tables.chunks.findAll({
					where: { id: { [Op.gt]: after } },
					attributes: ["id", "model", "channelId", "vector"],
					order: [["id", "ASC"]],
					limit: LOAD_PAGE,
				});
				if (page.length === 0) break;
				const chunks = page.map((row) => indexedChunk(row.get({ plain: true })));
				for (const chunk of chunks) this.chunkIndex.add(chunk);
				if (this.searchInRedis) await this.redisVectors?.write(chunks, true).catch((err: unknown) => this.failures.report("knowledge: redis vectors", err));
				after = chunks[chunks.length - 1].id;
			}
			this.logger.info(`Knowledge index: ${this.chunkIndex.size} chunks (${this.chunkIndex.describe()}), searched ${this.searchInRedis ? "in Redis" : "in process"}`);
		},

		async indexMessage({ message, channel }: ChatMessageEvent) {
			if (!this.settings.indexChat) return;
			if (message.deletedAt !== null || !message.text?.trim()) return this.forgetMessage(message.id);
			// Direct conversations stay between their two people; the assistant's own answers are not sources.
			if (channel.type === "direct" || (await this.isAssistant(message.userId))) return;
			await this.messageBatcher.add(message.id, { messageId: message.id, channelId: channel.id, text: message.text });
		},

		/** A deleted message leaves the index whether or not chat is indexed now: it may have been before. */
		async forgetMessage(messageId: number) {
			this.messageBatcher.drop(messageId);
			await this.messageBatcher.inTurn(() => this.removeMessageChunks([messageId]));
		},

		/** One batch of chat messages: those whose text is new or changed are embedded in one call and replace their old chunk. */
		async embedMessages(items: PendingMessage[]) {
			try {
				const messageIds = items.map((item) => item.messageId);
				const existing = (await this.tables.chunks.findAll({ where: { messageId: { [Op.in]: messageIds } }, attributes: ["id", "model", "messageId", "digest"] })).map((row) => row.get({ plain: true }));
				const known = new Map(existing.map((row) => [row.messageId, row] as const));
				// A reaction or an edit back to the same text announces an update too: only a new text is embedded.
				const changed = items.filter((item) => known.get(item.messageId)?.digest !== this.digestOf(item.text));
				if (changed.length === 0) return;
				const { model, vectors } = await this.embed(changed.map((item) => item.text));
				const stale = changed.flatMap((item) => known.get(item.messageId) ?? []);
				const inserted = await this.transaction(async (transaction) => {
					if (stale.length > 0) await this.tables.chunks.destroy({ where: { id: { [Op.in]: stale.map((row) => row.id) } }, transaction });
					await this.insertChunks(
						changed.map((item, i) => ({
							source: "channel",
							documentId: null,
							channelId: item.channelId,
							messageId: item.messageId,
							position: 0,
							...this.sealChunk(`message:${item.messageId}`, item.text, []),
							model,
							dimension: vectors[i].length,
							vector: toFloat32Blob(vectors[i]),
						})),
						transaction,
					);
					const rows = await this.tables.chunks.findAll({ where: { messageId: { [Op.in]: changed.map((item) => item.messageId) } }, attributes: ["id", "messageId"], transaction });
					return new Map(rows.map((row) => row.get({ plain: true })).map((row) => [row.messageId, row.id] as const));
				});
				const added = changed.map((item, i) => ({ id: inserted.get(item.messageId)!, model, channelId: item.channelId, vector: vectors[i] }));
				await this.indexChunks(undefined, added, stale);
			} catch (err) {
				// Not retried: a message missed while the AI is away stays out of the index (noted in the README).
				this.failures.report("knowledge: indexing chat messages", err);
			}
		},

		async removeMessageChunks(messageIds: number[]) {
			const rows = (await this.tables.chunks.findAll({ where: { messageId: { [Op.in]: messageIds } }, attributes: ["id", "model"] })).map((row) => row.get({ plain: true }));
			if (rows.length === 0) return;
			await this.tables.chunks.destroy({ where: { id: { [Op.in]: rows.map((row) => row.id) } } });
			await this.indexChunks(undefined, [], rows);
		},

		sealChunk(scope: string, text: string, headings: string[]) {
			return {
				body: this.cipher.encrypt(text, `knowledge.chunk:${scope}`),
				headingsSealed: headings.length > 0 ? this.cipher.encrypt(JSON.stringify(headings), `knowledge.chunk.headings:${scope}`) : null,
				digest: this.digestOf(text),
				keyId: this.cipher.currentKeyId,
			};
		},

		/** Keyed: equal texts are recognised without the digest telling what they say. */
		digestOf(text: string) {
			return this.cipher.blindIndex(`knowledge.chunk:${text}`);
		},

		openChunk(row: ChunkRow) {
			const scope = chunkScope(row);
			return {
				text: this.cipher.decrypt(row.body, `knowledge.chunk:${scope}`),
				headings: row.headingsSealed ? (JSON.parse(this.cipher.decrypt(row.headingsSealed, `knowledge.chunk.headings:${scope}`)) as string[]) : [],
			};
		},

		openTitle(row: Pick<DocumentRow, "titleSealed">) {
			return this.cipher.decrypt(row.titleSealed, "knowledge.document.title");
		},
	},

	created() {
		const secrets = loadSecrets();
		this.cipher = new FieldCipher(secrets.dataKey, secrets.previousDataKeys, secrets.indexKey);
		this.failures = failureLog(this.broker);
		this.chunkIndex = new ChunkIndex({ exactLimit: this.settings.exactSearchLimit });
		this.searchInRedis = false;
		if (this.settings.redisUrl) {
			this.redis = new RedisConnection(this.settings.redisUrl, this.failures.reporter("redis"));
			this.redisVectors = new RedisVectors(this.redis, `colony:${this.broker.namespace}:knowledge:`);
		}
		this.messageBatcher = new KeyedBatcher(this.settings.chatBatchDelayMs, (items) => this.embedMessages(items));
	},

	async started() {
		const redis = this.redis;
		if (redis && this.redisVectors) {
			registerReadinessProbe(this.broker, "redis:knowledge", () => redis.isReady(), { required: false });
			this.searchInRedis = await whenReady(redis, 2_000).then((ready) => (ready ? this.redisVectors!.hasSearchModule() : false)).catch(() => false);
		}
		await this.loadIndex();
	},

	async stopped() {
		await this.messageBatcher.drain();
		if (this.redis) {
			unregisterReadinessProbe(this.broker, "redis:knowledge");
			this.redis.close();
		}
	},
};

/** Waits a moment for a fresh connection, so what the server can do is judged on the server, not on a race. */
function whenReady(redis: RedisConnection, timeoutMs: number): Promise<boolean> {
	if (redis.isReady()) return Promise.resolve(true);
	return new Promise((resolve) => {
		const timer = setTimeout(() => done(false), timeoutMs);
		const onReady = () => done(true);
		const done = (ready: boolean) => {
			clearTimeout(timer);
			redis.client.off("ready", onReady);
			resolve(ready);
		};
		redis.client.once("ready", onReady);
	});
}

export default KnowledgeService;

import { ColonyApiError } from "@colony/client";
import type { AskAnswer, DocumentView, KnowledgeHit } from "@colony/types/knowledge";
import { reasonOf } from "../../lib/errors";
import { api } from "../../lib/session";

/** The server's limit on a document's text. */
export const MAX_DOCUMENT_LENGTH = 500_000;

// Embedding a long document or answering a question waits for a GPU host: longer than the client's 15 s default.
const ADD_TIMEOUT_MS = 180_000;
const ASK_TIMEOUT_MS = 120_000;
const SEARCH_TIMEOUT_MS = 30_000;

export const knowledgeKeys = {
	documents: ["knowledge", "documents"] as const,
	search: (q: string) => ["knowledge", "search", q] as const,
};

export async function addDocument(title: string, text: string): Promise<DocumentView> {
	return (await api.request<{ document: DocumentView }>("POST", "/knowledge/documents", { body: { title, text }, timeoutMs: ADD_TIMEOUT_MS })).document;
}

export async function listDocuments(): Promise<{ items: DocumentView[]; nextCursor: string | null }> {
	return api.request("GET", "/knowledge/documents", { query: { limit: 100 } });
}

export async function removeDocument(id: number): Promise<void> {
	await api.request("DELETE", `/knowledge/documents/${id}`);
}

export async function searchKnowledge(q: string, k = 10): Promise<KnowledgeHit[]> {
	return (await api.request<{ items: KnowledgeHit[] }>("GET", "/knowledge/search", { query: { q, k }, timeoutMs: SEARCH_TIMEOUT_MS })).items;
}

export function ask(question: string): Promise<AskAnswer> {
	return api.request<AskAnswer>("POST", "/ai/ask", { body: { question }, timeoutMs: ASK_TIMEOUT_MS });
}

/** A failure as a title and a sentence: no AI host, a limit reached, or whatever the server said. */
export function explain(err: unknown): { title: string; text: string } {
	if (err instanceof ColonyApiError) {
		const retryAfter = (err.data as { retryAfter?: unknown } | undefined)?.retryAfter;
		const later = typeof retryAfter === "number" ? ` Try again in ${retryAfter} seconds.` : "";
		if (err.type === "AI_UNAVAILABLE" || (err.status === 503 && err.type !== "WEB_APP_NOT_BUILT")) {
			return { title: "No AI host is available", text: `${reasonOf(err)}${later}` };
		}
		if (err.type === "AI_RATE_LIMITED" || err.type === "AI_QUEUE_FULL" || err.status === 429) {
			return { title: "Too many requests to the AI", text: `${reasonOf(err)}${later}` };
		}
	}
	return { title: "That did not work", text: reasonOf(err) };
}

/** Where a hit came from: a chat message links to it. */
export function hitLink(hit: KnowledgeHit): string | null {
	return hit.documentId === null ? `/channels/${hit.channelId}?message=${hit.messageId}` : null;
}

/** A short excerpt of a chunk, cut at a word. */
export function excerpt(text: string, max = 320): string {
	const flat = text.replace(/\s+/g, " ").trim();
	if (flat.length <= max) return flat;
	const cut = flat.slice(0, max);
	return `${cut.slice(0, Math.max(cut.lastIndexOf(" "), max - 40))}…`;
}

/** The knowledge service's contract (DESIGN §3, §4): documents, search hits, answers with citations. */

export interface DocumentView {
	id: number;
	title: string;
	/** How many chunks the document was split into. */
	chunks: number;
	createdAt: string;
	createdBy: number;
	/** Set when the document belongs to a channel: only that channel's readers see it. */
	channelId: number | null;
}

interface HitBase {
	chunkId: number;
	/** The chunk's text. */
	chunk: string;
	/** Cosine similarity to the query, 1 at best. */
	score: number;
	channelId: number | null;
}

/** A chunk of an uploaded document. */
export interface DocumentHit extends HitBase {
	documentId: number;
	title: string;
	/** The headings above the chunk, joined with " › " (null before any heading). */
	section: string | null;
	position: number;
}

/** A chat message indexed from a channel. */
export interface ChannelHit extends HitBase {
	documentId: null;
	channelId: number;
	messageId: number;
	/** `#<channel> message`. */
	title: string;
}

export type KnowledgeHit = DocumentHit | ChannelHit;

/** A source the answer was given, numbered as the prompt numbered it (`[ref]` in the answer). */
export type Citation = KnowledgeHit & { ref: number };

export interface AskAnswer {
	answer: string;
	citations: Citation[];
}

/** Broadcast to the knowledge nodes: chunks another node wrote or removed, for their in-process indexes. */
export interface KnowledgeChunksChangedEvent {
	added: number[];
	removed: number[];
}

/** `knowledge.document.created`, `knowledge.document.removed`. */
export interface KnowledgeDocumentEvent {
	document: DocumentView;
	by: number;
}

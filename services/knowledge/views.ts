import type { ChannelHit, DocumentHit, DocumentView } from "../../types/knowledge";
import type { ChunkRow, DocumentRow } from "./tables";

/** A document as clients see it: its title opened, never its text. */
export function documentView(row: DocumentRow, title: string): DocumentView {
	return {
		id: row.id,
		title,
		chunks: row.chunkCount,
		createdAt: new Date(row.createdAt).toISOString(),
		createdBy: row.createdBy,
		channelId: row.channelId,
	};
}

/** The headings above a chunk as one line, outermost first. */
export function sectionOf(headings: string[]): string | null {
	return headings.length > 0 ? headings.join(" › ") : null;
}

export function documentHit(row: ChunkRow, opened: { text: string; headings: string[]; title: string }, score: number): DocumentHit {
	return {
		documentId: row.documentId!,
		title: opened.title,
		section: sectionOf(opened.headings),
		position: row.position,
		chunkId: row.id,
		chunk: opened.text,
		score,
		channelId: row.channelId,
	};
}

export function channelHit(row: ChunkRow, text: string, channelName: string | null, score: number): ChannelHit {
	return {
		documentId: null,
		channelId: row.channelId!,
		messageId: row.messageId!,
		title: `#${channelName ?? "channel"} message`,
		chunkId: row.id,
		chunk: text,
		score,
	};
}

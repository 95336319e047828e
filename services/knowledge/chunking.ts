/** A piece of a document small enough to embed, with the headings it sits under. */
export interface TextChunk {
	text: string;
	/** The headings above the chunk, outermost first (empty for text before any heading, or plain text). */
	headings: string[];
}

export interface ChunkingOptions {
	/** Most characters of a chunk's own text (a long word may still be cut to fit). */
	size?: number;
	/** Characters of the previous chunk of the same section repeated at the start of the next, for context. */
	overlap?: number;
}

export const DEFAULT_CHUNKING: Required<ChunkingOptions> = { size: 800, overlap: 120 };

interface Section {
	headings: string[];
	paragraphs: string[];
}

const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const SETEXT_UNDERLINE = /^ {0,3}(=+|-+)[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/**
 * Splits Markdown or plain text into chunks of about `size` characters: never across a heading, preferably at
 * paragraph ends, then at sentence ends, then between words. Each chunk but a section's first begins with the
 * last `overlap` characters of the one before it.
 */
export function chunkText(source: string, options: ChunkingOptions = {}): TextChunk[] {
	const { size, overlap } = { ...DEFAULT_CHUNKING, ...options };
	const chunks: TextChunk[] = [];
	for (const section of sections(source)) {
		let previous: string | undefined;
		for (const body of pack(section.paragraphs.flatMap((paragraph) => pieces(paragraph, size)), size, "\n\n")) {
			const lead = previous === undefined ? "" : tail(previous, overlap);
			chunks.push({ text: lead ? `${lead} ${body}` : body, headings: section.headings });
			previous = body;
		}
	}
	return chunks;
}

/** The text under each heading, as paragraphs (a fenced code block, blank lines and all, is one paragraph). */
function sections(source: string): Section[] {
	const lines = source.replace(/\r\n?/g, "\n").split("\n");
	const result: Section[] = [];
	let path: { level: number; title: string }[] = [];
	let current: Section = { headings: [], paragraphs: [] };
	let paragraph: string[] = [];
	let fence: string | undefined;

	const endParagraph = () => {
		const text = paragraph.join("\n").trim();
		if (text) current.paragraphs.push(text);
		paragraph = [];
	};
	const startSection = (level: number, title: string) => {
		endParagraph();
		if (current.paragraphs.length > 0) result.push(current);
		path = [...path.filter((heading) => heading.level < level), { level, title }];
		current = { headings: path.map((heading) => heading.title), paragraphs: [] };
	};

	for (const line of lines) {
		const fenceMark = FENCE.exec(line)?.[1];
		if (fence !== undefined) {
			paragraph.push(line);
			if (fenceMark && fenceMark[0] === fence[0] && fenceMark.length >= fence.length) fence = undefined;
			continue;
		}
		if (fenceMark) {
			endParagraph();
			fence = fenceMark;
			paragraph.push(line);
			continue;
		}
		const atx = ATX_HEADING.exec(line);
		if (atx) {
			startSection(atx[1].length, (atx[2] ?? "").trim());
			continue;
		}
		const underline = SETEXT_UNDERLINE.exec(line);
		// A one-line paragraph underlined with = or - is a heading; a --- after a blank line is a rule.
		if (underline && paragraph.length === 1) {
			const title = paragraph[0].trim();
			paragraph = [];
			startSection(underline[1][0] === "=" ? 1 : 2, title);
			continue;
		}
		if (line.trim() === "") endParagraph();
		else paragraph.push(line);
	}
	endParagraph();
	if (current.paragraphs.length > 0) result.push(current);
	return result;
}

/** A paragraph cut into pieces of at most `size` characters: at sentence ends, else between words, else anywhere. */
function pieces(paragraph: string, size: number): string[] {
	if (paragraph.length <= size) return [paragraph];
	const sentences = paragraph.match(/[^.!?\n]*(?:[.!?]+["')\]]*|\n|$)\s*/g) ?? [paragraph];
	return pack(sentences.map((sentence) => sentence.trim()).filter(Boolean).flatMap((sentence) => words(sentence, size)), size, " ");
}

function words(sentence: string, size: number): string[] {
	if (sentence.length <= size) return [sentence];
	const cut: string[] = [];
	for (const word of sentence.split(/\s+/)) {
		for (let start = 0; start < word.length; start += size) cut.push(word.slice(start, start + size));
	}
	return pack(cut, size, " ");
}

/** Consecutive parts joined by `separator` as long as they fit in `size`. */
function pack(parts: string[], size: number, separator: string): string[] {
	const packed: string[] = [];
	let current = "";
	for (const part of parts) {
		if (current && current.length + separator.length + part.length <= size) {
			current += separator + part;
		} else {
			if (current) packed.push(current);
			current = part;
		}
	}
	if (current) packed.push(current);
	return packed;
}

/** About the last `length` characters of `text`, starting at a word. */
function tail(text: string, length: number): string {
	if (length <= 0) return "";
	if (text.length <= length) return text;
	const cut = text.slice(text.length - length);
	const space = cut.search(/\s/);
	return (space >= 0 ? cut.slice(space) : cut).trim();
}

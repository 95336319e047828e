import { chunkText } from "../../services/knowledge/chunking";

function wordsOf(text: string): string[] {
	return text.match(/[\p{L}\p{N}]+/gu) ?? [];
}

const sentence = (i: number) => `Sentence number ${i} explains one more detail of the deployment procedure.`;

describe("chunking", () => {
	it("keeps each chunk under its headings, outermost first", () => {
		const chunks = chunkText(
			[
				"Intro before any heading.",
				"# Install",
				"Get the package.",
				"## On Linux",
				"Use apt.",
				"### Debian",
				"apt-get install colony",
				"## On macOS",
				"Use brew.",
				"",
				"Usage",
				"=====",
				"Run it.",
			].join("\n"),
		);
		expect(chunks.map((chunk) => [chunk.headings, chunk.text])).toEqual([
			[[], "Intro before any heading."],
			[["Install"], "Get the package."],
			[["Install", "On Linux"], "Use apt."],
			[["Install", "On Linux", "Debian"], "apt-get install colony"],
			[["Install", "On macOS"], "Use brew."],
			[["Usage"], "Run it."],
		]);
	});

	it("packs paragraphs up to the size, with the end of the previous chunk repeated", () => {
		const text = Array.from({ length: 30 }, (_, i) => sentence(i)).join("\n\n");
		const chunks = chunkText(text, { size: 800, overlap: 120 });
		expect(chunks.length).toBeGreaterThan(2);
		for (const chunk of chunks) expect(chunk.text.length).toBeLessThanOrEqual(800 + 120 + 1);
		for (let i = 1; i < chunks.length; i++) {
			const previousEnd = chunks[i - 1].text.slice(-40);
			expect(chunks[i].text.slice(0, 200)).toContain(previousEnd);
		}
		const covered = new Set(chunks.flatMap((chunk) => wordsOf(chunk.text)));
		for (let i = 0; i < 30; i++) expect(covered).toContain(String(i));
		expect(chunks[0].text).toContain("\n\n");
	});

	it("cuts a long paragraph at sentence ends, and a word longer than a chunk anywhere", () => {
		const paragraph = Array.from({ length: 40 }, (_, i) => sentence(i)).join(" ");
		const chunks = chunkText(paragraph, { size: 300, overlap: 0 });
		for (const chunk of chunks) {
			expect(chunk.text.length).toBeLessThanOrEqual(300);
			expect(chunk.text).toMatch(/^Sentence number \d+/);
			expect(chunk.text).toMatch(/procedure\.$/);
		}
		expect(chunks.map((chunk) => chunk.text).join(" ")).toBe(paragraph);

		const word = "x".repeat(650);
		expect(chunkText(word, { size: 300, overlap: 0 }).map((chunk) => chunk.text.length)).toEqual([300, 300, 50]);
	});

	it("does not take a # line in a fenced code block for a heading", () => {
		const chunks = chunkText(["# Scripts", "", "```sh", "# not a heading", "", "echo hi", "```", "", "After the code."].join("\n"));
		expect(chunks).toHaveLength(1);
		expect(chunks[0].headings).toEqual(["Scripts"]);
		expect(chunks[0].text).toBe("```sh\n# not a heading\n\necho hi\n```\n\nAfter the code.");
	});

	it("treats plain text as paragraphs, and gives nothing for blank text", () => {
		expect(chunkText("First line\nsame paragraph\n\n\nSecond paragraph\r\n")).toEqual([
			{ text: "First line\nsame paragraph\n\nSecond paragraph", headings: [] },
		]);
		expect(chunkText("  \n\n \t")).toEqual([]);
		expect(chunkText("# Only a heading")).toEqual([]);
		expect(chunkText("... and then?")[0].text).toBe("... and then?");
	});
});

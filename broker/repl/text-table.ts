/** A plain text table for the REPL's answers: each column as wide as its widest cell, a rule under the headers. */
export function textTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
	const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)));
	const line = (cells: readonly string[]) =>
		widths
			.map((width, column) => (cells[column] ?? "").padEnd(width))
			.join("  ")
			.trimEnd();
	return [line(headers), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join("\n");
}

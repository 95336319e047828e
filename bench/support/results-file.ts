import { existsSync, readFileSync, writeFileSync } from "node:fs";

/**
 * Puts `markdown` between `<!-- bench:<name> -->` and `<!-- /bench:<name> -->` in the results file, adding the
 * markers at its end when they are missing. Everything outside them is left as it is: each bench owns its section.
 */
export function writeResultsSection(file: string, name: string, markdown: string): void {
	const open = `<!-- bench:${name} -->`;
	const close = `<!-- /bench:${name} -->`;
	const current = existsSync(file) ? readFileSync(file, "utf8") : "";
	const section = `${open}\n${markdown.trim()}\n${close}`;
	const start = current.indexOf(open);
	const end = current.indexOf(close);
	if (start >= 0 && end > start) {
		writeFileSync(file, current.slice(0, start) + section + current.slice(end + close.length));
	} else if (start >= 0 || end >= 0) {
		throw new Error(`${file} has only one of ${open} and ${close}, or them in the wrong order: fix it by hand`);
	} else {
		writeFileSync(file, `${current.trimEnd() ? `${current.trimEnd()}\n\n` : ""}${section}\n`);
	}
}

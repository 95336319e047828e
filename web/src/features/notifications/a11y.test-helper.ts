import axe from "axe-core";

/**
 * The serious and critical axe-core violations in `root` (jsdom: no colour contrast, which needs layout; the
 * end-to-end run checks it in a browser). Used by the tests of the notifications, settings, knowledge and admin screens.
 */
export async function seriousViolations(root: Element = document.body): Promise<string[]> {
	const results = await axe.run(root, { rules: { "color-contrast": { enabled: false } }, resultTypes: ["violations"] });
	return results.violations
		.filter((violation) => violation.impact === "serious" || violation.impact === "critical")
		.map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.html).join(" | ")}`);
}

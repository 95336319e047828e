import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

/** Debian's Chromium (`apt-get install -y chromium`), or CHROMIUM_PATH; nothing is ever downloaded. */
function findChromium(): string | null {
	for (const candidate of [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"]) {
		if (candidate && existsSync(candidate)) return candidate;
	}
	return null;
}

export const chromiumPath = findChromium();
const webBuilt = existsSync(resolve(__dirname, "../../web/dist/index.html"));
const missing = !chromiumPath ? "no Chromium (apt-get install -y chromium)" : !webBuilt ? "the web app is not built (npm run build:web)" : null;
if (missing && process.env.CI) throw new Error(`The browser suites must run in CI: ${missing}`);
if (missing) console.warn(`\n!!! SKIPPING the browser suites (test/e2e/web-*.spec.ts): ${missing}.\n`);

/** `describe` when a browser and the built web app are here; otherwise (outside CI only) skipped, said loudly. */
export const describeBrowser: jest.Describe = missing ? describe.skip : describe;

export const RESULTS_DIR = resolve(__dirname, "../../test-results");

export function launchBrowser(): Promise<Browser> {
	return chromium.launch({
		executablePath: chromiumPath!,
		headless: true,
		// This machine's network is closed: Chromium's own background connections would only fail.
		args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
	});
}

/** A browser context, like one person's browser profile; CSP violations and page errors it meets are kept. */
export async function personContext(browser: Browser, baseURL: string): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
	// Reduced motion: no popover is caught half faded in, which axe would take for low contrast.
	const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 800 }, reducedMotion: "reduce" });
	const page = await context.newPage();
	// A step that cannot happen fails on its own, naming what it waited for, well before the test's timeout.
	page.setDefaultTimeout(15_000);
	const problems: string[] = [];
	page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
	page.on("console", (message) => {
		if (message.type() === "error" && /Content Security Policy|Refused to/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
	});
	return { context, page, problems };
}

const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

interface AxeViolation {
	id: string;
	impact: string | null;
	help: string;
	nodes: { target: string[] }[];
}

/**
 * The serious and critical WCAG 2.1 A/AA violations axe-core finds on the page as it is now. axe is evaluated
 * through the DevTools protocol, which the page's CSP does not govern, so the CSP under test stays strict.
 */
export async function accessibilityViolations(page: Page): Promise<string[]> {
	await page.evaluate(axeSource);
	// A string, run in the page: this file is compiled without the DOM's types.
	const violations = (await page.evaluate(
		`axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }).then((result) => result.violations)`,
	)) as AxeViolation[];
	return violations
		.filter((violation) => violation.impact === "serious" || violation.impact === "critical")
		.map((violation) => `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.map((node) => node.target.join(" ")).slice(0, 5).join(", ")}`);
}

/** Saves a screenshot of the screen as a test artefact, test-results/screens/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
	const dir = join(RESULTS_DIR, "screens");
	mkdirSync(dir, { recursive: true });
	await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

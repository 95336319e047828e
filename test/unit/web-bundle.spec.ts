import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { gzipSync } from "node:zlib";

const dist = resolve(__dirname, "../../web/dist");
const built = existsSync(resolve(dist, "index.html"));
if (!built && process.env.CI) throw new Error("web/dist is missing: npm test builds it before jest (npm run build)");
const describeBuilt = built ? describe : describe.skip;

/** The JavaScript a first visit downloads before anything shows: the entry script and what it preloads. */
function initialScripts(): string[] {
	const html = readFileSync(resolve(dist, "index.html"), "utf8");
	const entry = [...html.matchAll(/<script[^>]+type="module"[^>]+src="([^"]+)"/g)].map((match) => match[1]);
	const preloaded = [...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"/g)].map((match) => match[1]);
	return [...entry, ...preloaded];
}

describeBuilt("the web app's first load", () => {
	it("downloads at most 250 KB of gzipped JavaScript; each screen comes in its own chunk when opened", () => {
		const scripts = initialScripts();
		expect(scripts.length).toBeGreaterThan(0);
		const gzipped = scripts.reduce((sum, path) => sum + gzipSync(readFileSync(resolve(dist, `.${path}`)), { level: 9 }).length, 0);
		console.log(`web: initial JavaScript ${(gzipped / 1024).toFixed(1)} KB gzipped in ${scripts.length} file(s)`);
		expect(gzipped).toBeLessThanOrEqual(250 * 1024);
		const html = readFileSync(resolve(dist, "index.html"), "utf8");
		expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
	});
});

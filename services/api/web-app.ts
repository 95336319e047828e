import { existsSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, join, relative, resolve, sep } from "node:path";
import type { AssetsConfig } from "moleculer-web";
import type { ErrorBody } from "../../types/contract";

export const BUILD_WEB_APP_COMMAND = "npm run build:web";

export const WEB_APP_NOT_BUILT: ErrorBody = {
	name: "ServiceUnavailableError",
	message: `The web app is not built: run \`${BUILD_WEB_APP_COMMAND}\` on the server`,
	code: 503,
	type: "WEB_APP_NOT_BUILT",
	data: { command: BUILD_WEB_APP_COMMAND },
};

/** Paths the gateway answers itself: the web app never does, not even with its page. */
const GATEWAY_PATHS = ["/api", "/socket.io", "/health", "/metrics"];

/** The content-hashed build output: a changed file gets a new name, so a browser may keep each one for good. */
const HASHED_FOLDER = "assets/";

/** moleculer-web's static file server (serve-static), as it calls it for a request no route answered. */
export type ServeFiles = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** The first folder at or above `start` that holds a package.json: the same from source and from dist/. */
export function projectRoot(start: string): string {
	for (let folder = resolve(start); ; folder = dirname(folder)) {
		if (existsSync(join(folder, "package.json"))) return folder;
		if (dirname(folder) === folder) throw new Error(`No package.json in ${start} or any folder above it`);
	}
}

export function defaultWebRoot(): string {
	return join(projectRoot(__dirname), "web", "dist");
}

export function isWebAppBuilt(webRoot: string): boolean {
	return existsSync(join(webRoot, "index.html"));
}

/** moleculer-web's `assets` setting for the build in `webRoot`, with the caching each kind of file allows. */
export function webAppAssets(webRoot: string): AssetsConfig {
	const root = resolve(webRoot);
	return {
		folder: root,
		options: {
			// A path without an extension never reaches the files (it gets index.html): folders are neither
			// listed nor redirected to.
			index: false,
			redirect: false,
			dotfiles: "ignore",
			fallthrough: true,
			setHeaders(res: ServerResponse, file: string) {
				const path = relative(root, file).split(sep).join("/");
				// Everything else (index.html, sw.js, the manifest, icons) keeps its name across builds: the browser
				// asks again each time, and the ETag makes that cheap.
				res.setHeader("Cache-Control", path.startsWith(HASHED_FOLDER) ? "public, max-age=31536000, immutable" : "no-cache");
				if (path === "sw.js") res.setHeader("Service-Worker-Allowed", "/");
			},
		},
	};
}

/**
 * Lets only the web app's own paths reach moleculer-web's file server, which gets every request no route
 * answered, API paths included (with the route's prefix cut off: /api/v1/index.html would find index.html).
 * A path without a file extension (/channels/3) is a route of the app: it gets index.html, and the app routes
 * in the browser; a missing file with an extension stays a 404.
 */
export function webAppOnly(serveFiles: ServeFiles, answerNotBuilt: (res: ServerResponse) => void): ServeFiles {
	return (req, res, next) => {
		const path = requestPath(req);
		if ((req.method !== "GET" && req.method !== "HEAD") || isGatewayPath(path)) return next();
		if (hasFileExtension(path)) return serveFiles(req, res, next);
		req.url = "/index.html";
		serveFiles(req, res, (err) => (err ? next(err) : answerNotBuilt(res)));
	};
}

/** The path as the client sent it, before moleculer-web cut a route's prefix off `req.url`. */
function requestPath(req: IncomingMessage): string {
	const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? "/";
	return url.split("?")[0];
}

function isGatewayPath(path: string): boolean {
	return GATEWAY_PATHS.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

function hasFileExtension(path: string): boolean {
	return path.slice(path.lastIndexOf("/") + 1).includes(".");
}

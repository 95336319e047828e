/*
 * Colony's service worker, served as it is (no build step): the app shell when the network is down, and Web Push.
 * The API and the sockets are never cached: what they answer belongs to one person at one moment.
 */

const VERSION = "v1";
const SHELL_CACHE = `colony-shell-${VERSION}`;
const ASSET_CACHE = `colony-assets-${VERSION}`;
const SHELL_URL = "/index.html";
/** The hashed build files kept for offline use; the oldest go first (each deploy adds new names). */
const MAX_ASSETS = 150;
/** What the gateway answers itself (services/api/web-app.ts). */
const GATEWAY_PATHS = ["/api", "/socket.io", "/health", "/metrics"];

self.addEventListener("install", (event) => {
	event.waitUntil(
		precacheShell()
			// The shell is network-first, so a new worker may take over at once: no page depends on the old one's cache.
			.then(() => self.skipWaiting()),
	);
});

/** index.html, and (as a bonus, never failing the install) the build files it loads, so it can start offline. */
async function precacheShell() {
	const cache = await caches.open(SHELL_CACHE);
	const response = await fetch(new Request(SHELL_URL, { cache: "reload" }));
	if (!response.ok) throw new Error(`${SHELL_URL} answered ${response.status}`);
	await cache.put(SHELL_URL, response.clone());
	try {
		const html = await response.text();
		const assets = [...new Set(Array.from(html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g), (match) => match[1]))];
		const assetCache = await caches.open(ASSET_CACHE);
		await Promise.all(assets.map((asset) => assetCache.match(asset).then((kept) => kept || assetCache.add(asset))));
	} catch (err) {
		// Fetched and kept on first use instead.
	}
}

self.addEventListener("activate", (event) => {
	event.waitUntil(
		caches
			.keys()
			.then((names) => Promise.all(names.filter((name) => name.startsWith("colony-") && name !== SHELL_CACHE && name !== ASSET_CACHE).map((name) => caches.delete(name))))
			.then(() => self.clients.claim()),
	);
});

function isGatewayPath(pathname) {
	return GATEWAY_PATHS.some((prefix) => pathname === prefix || pathname.startsWith(`${prefix}/`));
}

self.addEventListener("fetch", (event) => {
	const request = event.request;
	if (request.method !== "GET") return;
	const url = new URL(request.url);
	if (url.origin !== self.location.origin || isGatewayPath(url.pathname)) return;
	if (request.mode === "navigate") {
		event.respondWith(networkFirstShell(request));
	} else if (url.pathname.startsWith("/assets/")) {
		event.respondWith(cacheFirstAsset(request));
	}
	// Anything else (the manifest, icons, this file) goes to the network as if there were no worker.
});

/** The page from the network, kept as the shell; the kept shell when the network fails. */
async function networkFirstShell(request) {
	try {
		const response = await fetch(request);
		const type = response.headers.get("content-type") || "";
		if (response.ok && type.includes("text/html")) {
			const cache = await caches.open(SHELL_CACHE);
			await cache.put(SHELL_URL, response.clone());
		}
		return response;
	} catch (err) {
		const cached = await caches.match(SHELL_URL, { cacheName: SHELL_CACHE });
		if (cached) return cached;
		return new Response("Colony cannot be reached, and this browser has no copy of it yet. Try again when you are online.", {
			status: 503,
			headers: { "content-type": "text/plain; charset=utf-8" },
		});
	}
}

/** Build files have their content's hash in their name: a kept copy is always right. */
async function cacheFirstAsset(request) {
	const cache = await caches.open(ASSET_CACHE);
	const cached = await cache.match(request);
	if (cached) return cached;
	const response = await fetch(request);
	if (response.ok) {
		await cache.put(request, response.clone());
		await trim(cache);
	}
	return response;
}

async function trim(cache) {
	const keys = await cache.keys();
	await Promise.all(keys.slice(0, Math.max(0, keys.length - MAX_ASSETS)).map((key) => cache.delete(key)));
}

/** The server sends `{ id, type, title, body, link }` (services/notifications/delivery.ts). */
self.addEventListener("push", (event) => {
	let data = {};
	try {
		data = event.data ? event.data.json() : {};
	} catch (err) {
		data = { body: event.data ? event.data.text() : "" };
	}
	const options = { body: data.body || "", icon: "/icon-192.png", data: { link: data.link || "/" } };
	// The same notification pushed twice replaces itself instead of showing twice.
	if (data.id !== undefined) options.tag = `colony-${data.id}`;
	event.waitUntil(self.registration.showNotification(data.title || "Colony", options));
});

self.addEventListener("notificationclick", (event) => {
	event.notification.close();
	const link = event.notification.data && event.notification.data.link;
	event.waitUntil(openInColony(appUrl(link)));
});

/** Only a path of this app: a push can never send the person to another site. */
function appUrl(link) {
	const path = typeof link === "string" && link.startsWith("/") && !link.startsWith("//") && !link.startsWith("/\\") ? link : "/";
	return new URL(path, self.location.origin).href;
}

/** Focuses an open Colony tab and takes it to `url`, or opens one. */
async function openInColony(url) {
	const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
	const open = windows.filter((client) => new URL(client.url).origin === self.location.origin);
	const tab = open.find((client) => client.focused) || open[0];
	if (!tab) {
		await self.clients.openWindow(url);
		return;
	}
	const focused = (await tab.focus()) || tab;
	if (focused.url === url) return;
	try {
		// Only a tab this worker controls can be navigated from here.
		await focused.navigate(url);
	} catch (err) {
		focused.postMessage({ type: "colony.navigate", url });
	}
}

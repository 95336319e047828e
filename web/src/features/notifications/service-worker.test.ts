import { runInNewContext } from "node:vm";
import { describe, expect, it, vi } from "vitest";
// web/public/sw.js, run against fakes of what a browser gives a service worker.
import source from "../../../public/sw.js?raw";

const ORIGIN = "https://colony.example";

type Listener = (event: Record<string, unknown>) => void;
interface FakeClient {
	url: string;
	focused: boolean;
	focus: ReturnType<typeof vi.fn>;
	navigate: ReturnType<typeof vi.fn>;
	postMessage: ReturnType<typeof vi.fn>;
}

function worker(network: (request: Request) => Promise<Response>, windows: FakeClient[] = []) {
	const listeners = new Map<string, Listener>();
	const stores = new Map<string, Map<string, Response>>();
	const keyOf = (request: Request | string) => new URL(typeof request === "string" ? request : request.url, ORIGIN).href;
	const fetch = vi.fn((request: Request | string) => network(new Request(new URL(typeof request === "string" ? request : request.url, ORIGIN))));
	const cache = (name: string) => {
		if (!stores.has(name)) stores.set(name, new Map());
		const store = stores.get(name)!;
		return {
			put: async (request: Request | string, response: Response) => void store.set(keyOf(request), response),
			match: async (request: Request | string) => store.get(keyOf(request))?.clone(),
			add: async (request: Request | string) => void store.set(keyOf(request), await fetch(request)),
			keys: async () => [...store.keys()].map((url) => new Request(url)),
			delete: async (request: Request | string) => store.delete(keyOf(request)),
		};
	};
	const caches = {
		open: async (name: string) => cache(name),
		keys: async () => [...stores.keys()],
		delete: async (name: string) => stores.delete(name),
		match: async (request: string, options: { cacheName: string }) => stores.get(options.cacheName)?.get(keyOf(request))?.clone(),
	};
	const self = {
		location: new URL(`${ORIGIN}/sw.js`),
		addEventListener: (type: string, listener: Listener) => listeners.set(type, listener),
		skipWaiting: vi.fn(async () => {}),
		registration: { showNotification: vi.fn(async () => {}) },
		clients: { matchAll: vi.fn(async () => windows), openWindow: vi.fn(async () => null), claim: vi.fn(async () => {}) },
	};
	// A worker's relative URLs are read against its own address.
	const WorkerRequest = class extends Request {
		constructor(input: string, init?: RequestInit) {
			super(new URL(input, ORIGIN), init);
		}
	};
	runInNewContext(source, { self, caches, fetch, URL, Request: WorkerRequest, Response, Promise, Array, Set, Math, JSON, Error });

	const dispatch = async (type: string, event: Record<string, unknown>) => {
		let waited: Promise<unknown> | undefined;
		let answered: Promise<Response> | undefined;
		listeners.get(type)!({ ...event, waitUntil: (work: Promise<unknown>) => (waited = work), respondWith: (response: Promise<Response>) => (answered = response) });
		await waited;
		return answered;
	};
	const get = (path: string, mode: RequestMode = "cors") => ({ request: { url: `${ORIGIN}${path}`, method: "GET", mode } });
	return { self, stores, fetch, dispatch, get };
}

const html = (body: string) => new Response(body, { headers: { "content-type": "text/html; charset=utf-8" } });

describe("the service worker", () => {
	it("keeps index.html and the build files it loads on install", async () => {
		const sw = worker(async (request) =>
			request.url.endsWith("/index.html") ? html('<script type="module" src="/assets/index-1.js"></script><link rel="stylesheet" href="/assets/index-1.css">') : new Response("x"),
		);
		await sw.dispatch("install", {});
		expect([...sw.stores.get("colony-shell-v1")!.keys()]).toEqual([`${ORIGIN}/index.html`]);
		expect([...sw.stores.get("colony-assets-v1")!.keys()].sort()).toEqual([`${ORIGIN}/assets/index-1.css`, `${ORIGIN}/assets/index-1.js`]);
		expect(sw.self.skipWaiting).toHaveBeenCalled();
	});

	it("never answers for the API, the sockets or another site", async () => {
		const sw = worker(async () => new Response("{}"));
		for (const path of ["/api/v1/notifications", "/socket.io/?EIO=4", "/health/ready", "/metrics"]) {
			expect(await sw.dispatch("fetch", sw.get(path))).toBeUndefined();
			expect(await sw.dispatch("fetch", sw.get(path, "navigate"))).toBeUndefined();
		}
		expect(await sw.dispatch("fetch", { request: new Request("https://elsewhere.example/assets/a.js") })).toBeUndefined();
		expect(await sw.dispatch("fetch", { request: new Request(`${ORIGIN}/assets/a.js`, { method: "POST", body: "x" }) })).toBeUndefined();
		expect(sw.stores.size).toBe(0);
	});

	it("loads pages from the network first, and the kept shell when offline", async () => {
		let online = true;
		const sw = worker(async () => {
			if (!online) throw new TypeError("Failed to fetch");
			return html("<title>Colony v2</title>");
		});
		const fresh = await sw.dispatch("fetch", sw.get("/channels/3", "navigate"));
		expect(await fresh!.text()).toBe("<title>Colony v2</title>");
		online = false;
		const offline = await sw.dispatch("fetch", sw.get("/tasks/12", "navigate"));
		expect(await offline!.text()).toBe("<title>Colony v2</title>");
	});

	it("answers build files from its cache once fetched", async () => {
		const sw = worker(async () => new Response("console.log(1)"));
		await (await sw.dispatch("fetch", sw.get("/assets/BoardPage-abc.js")))!.text();
		expect(await (await sw.dispatch("fetch", sw.get("/assets/BoardPage-abc.js")))!.text()).toBe("console.log(1)");
		expect(sw.fetch).toHaveBeenCalledTimes(1);
	});

	it("shows a pushed notification with its link", async () => {
		const sw = worker(async () => new Response(""));
		const payload = { id: 7, type: "mention", title: "Bea mentioned you", body: "in #ops", link: "/channels/3?message=41" };
		await sw.dispatch("push", { data: { json: () => payload, text: () => JSON.stringify(payload) } });
		expect(sw.self.registration.showNotification).toHaveBeenCalledWith("Bea mentioned you", {
			body: "in #ops",
			icon: "/icon-192.png",
			data: { link: "/channels/3?message=41" },
			tag: "colony-7",
		});
	});

	function tab(url: string, focused = false): FakeClient {
		const client: FakeClient = { url, focused, focus: vi.fn(), navigate: vi.fn(async () => client), postMessage: vi.fn() };
		client.focus.mockResolvedValue(client);
		return client;
	}

	function click(link: unknown) {
		return { notification: { close: vi.fn(), data: { link } } };
	}

	it("focuses an open Colony tab and takes it to the link on a click", async () => {
		const other = tab("https://elsewhere.example/", true);
		const colony = tab(`${ORIGIN}/channels/1`);
		const sw = worker(async () => new Response(""), [other, colony]);
		await sw.dispatch("notificationclick", click("/tasks/12"));
		expect(colony.focus).toHaveBeenCalled();
		expect(colony.navigate).toHaveBeenCalledWith(`${ORIGIN}/tasks/12`);
		expect(sw.self.clients.openWindow).not.toHaveBeenCalled();
	});

	it("asks a tab it does not control to go there itself", async () => {
		const colony = tab(`${ORIGIN}/channels/1`);
		colony.navigate.mockRejectedValue(new TypeError("not controlled"));
		const sw = worker(async () => new Response(""), [colony]);
		await sw.dispatch("notificationclick", click("/tasks/12"));
		expect(colony.postMessage).toHaveBeenCalledWith({ type: "colony.navigate", url: `${ORIGIN}/tasks/12` });
	});

	it("opens Colony when no tab is open, and never another site", async () => {
		const sw = worker(async () => new Response(""));
		await sw.dispatch("notificationclick", click("/notifications"));
		expect(sw.self.clients.openWindow).toHaveBeenLastCalledWith(`${ORIGIN}/notifications`);
		await sw.dispatch("notificationclick", click("https://evil.example/x"));
		expect(sw.self.clients.openWindow).toHaveBeenLastCalledWith(`${ORIGIN}/`);
		await sw.dispatch("notificationclick", click("//evil.example/x"));
		expect(sw.self.clients.openWindow).toHaveBeenLastCalledWith(`${ORIGIN}/`);
	});
});

import type { PushSubscriptionInput } from "@colony/types/notifications";

/** The service worker: the app shell offline, and Web Push. Served from the root so its scope is the whole app. */
const SERVICE_WORKER_URL = "/sw.js";

/** What the server offers for Web Push (the SDK's ColonyRestClient has it). */
export interface PushServer {
	pushKey(): Promise<string>;
	subscribePush(subscription: PushSubscriptionInput): Promise<void>;
	unsubscribePush(endpoint: string): Promise<void>;
}

/** `unsupported`: this browser (or an insecure origin) has no Web Push; otherwise the notification permission. */
export type PushAvailability = "unsupported" | NotificationPermission;

/**
 * Registers the service worker once the page has loaded, in production builds only: in development Vite serves
 * modules the worker must not keep.
 */
export function registerServiceWorker(): void {
	if (!import.meta.env.PROD || !("serviceWorker" in navigator)) return;
	// A notification clicked while this tab was not yet under the worker: the worker asks the tab to go there.
	navigator.serviceWorker.addEventListener("message", (event: MessageEvent<{ type?: string; url?: string }>) => {
		if (event.data?.type !== "colony.navigate" || typeof event.data.url !== "string") return;
		const url = new URL(event.data.url, window.location.origin);
		if (url.origin === window.location.origin) window.location.assign(url.href);
	});
	const register = () => {
		navigator.serviceWorker.register(SERVICE_WORKER_URL, { scope: "/" }).catch((err: unknown) => console.warn("The service worker could not be registered", err));
	};
	if (document.readyState === "complete") register();
	else window.addEventListener("load", register, { once: true });
}

export function pushAvailability(): PushAvailability {
	if (typeof window === "undefined" || !window.isSecureContext || !("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
		return "unsupported";
	}
	return Notification.permission;
}

/** The registration push goes through: the one the app registered, or a new one (in development, say). */
async function registration(): Promise<ServiceWorkerRegistration> {
	const existing = await navigator.serviceWorker.getRegistration("/");
	if (existing) return existing;
	await navigator.serviceWorker.register(SERVICE_WORKER_URL, { scope: "/" });
	return navigator.serviceWorker.ready;
}

/** This browser's current subscription, if it has one. */
export async function currentPushSubscription(): Promise<PushSubscription | null> {
	if (pushAvailability() === "unsupported") return null;
	const existing = await navigator.serviceWorker.getRegistration("/");
	return existing ? existing.pushManager.getSubscription() : null;
}

/** A VAPID key as `applicationServerKey` wants it: the bytes of its base64url text. */
export function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
	const base64 = (base64url + "=".repeat((4 - (base64url.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
	const text = atob(base64);
	const bytes = new Uint8Array(new ArrayBuffer(text.length));
	for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
	return bytes;
}

/** What the server stores of a browser's subscription. */
export function subscriptionInput(subscription: PushSubscription): PushSubscriptionInput {
	const json = subscription.toJSON();
	const { p256dh, auth } = json.keys ?? {};
	if (!json.endpoint || !p256dh || !auth) throw new Error("The browser gave a push subscription without its keys.");
	return { endpoint: json.endpoint, keys: { p256dh, auth } };
}

/**
 * Asks for the permission (this must run from a click), subscribes this browser with the server's key and sends
 * the subscription to the server. A subscription made with another key (the server's changed) is replaced.
 */
export async function enablePush(server: PushServer): Promise<PushSubscription> {
	if (pushAvailability() === "unsupported") throw new Error("This browser cannot receive notifications from Colony.");
	const permission = await Notification.requestPermission();
	if (permission !== "granted") {
		throw new Error(
			permission === "denied"
				? "Your browser blocks notifications from Colony. Allow them in the site's settings, then try again."
				: "Notifications were not allowed.",
		);
	}
	const [publicKey, worker] = await Promise.all([server.pushKey(), registration()]);
	const applicationServerKey = keyBytes(publicKey);
	let subscription = await worker.pushManager.getSubscription();
	if (subscription && !sameKey(subscription.options.applicationServerKey, applicationServerKey)) {
		await subscription.unsubscribe();
		subscription = null;
	}
	subscription ??= await worker.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });
	await server.subscribePush(subscriptionInput(subscription));
	return subscription;
}

/** Forgets this browser on the server and ends its subscription; the subscription ends even when the server fails. */
export async function disablePush(server: PushServer): Promise<void> {
	const subscription = await currentPushSubscription();
	if (!subscription) return;
	try {
		await server.unsubscribePush(subscription.endpoint);
	} finally {
		await subscription.unsubscribe();
	}
}

function sameKey(current: ArrayBuffer | null, wanted: Uint8Array): boolean {
	if (!current) return false;
	const bytes = new Uint8Array(current);
	return bytes.length === wanted.length && bytes.every((byte, i) => byte === wanted[i]);
}

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Agent } from "node:https";
import { isIP } from "node:net";
import { resolve } from "node:path";
import webpush, { WebPushError } from "web-push";
import { dataDir, isProduction } from "../config";
import { ensurePrivateDir } from "../db/private-files";

export interface VapidKeys {
	publicKey: string;
	privateKey: string;
	/** A `mailto:` or `https:` contact push services may use (VAPID_SUBJECT). */
	subject: string;
}

export interface PushTarget {
	endpoint: string;
	p256dh: string;
	auth: string;
}

type Env = Record<string, string | undefined>;

/**
 * The VAPID key pair from VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY. Outside production a missing pair is generated
 * once into DATA_DIR/vapid-keys.json (0600), so browsers' subscriptions stay valid across restarts; in production
 * without them Web Push is off (null).
 */
export function loadVapidKeys(env: Env = process.env): VapidKeys | null {
	const subject = env.VAPID_SUBJECT || "mailto:admin@localhost";
	if (env.VAPID_PUBLIC_KEY && env.VAPID_PRIVATE_KEY) return { publicKey: env.VAPID_PUBLIC_KEY, privateKey: env.VAPID_PRIVATE_KEY, subject };
	if (isProduction(env)) return null;
	const dir = dataDir(env);
	const path = resolve(dir, "vapid-keys.json");
	if (existsSync(path)) return { ...(JSON.parse(readFileSync(path, "utf8")) as Omit<VapidKeys, "subject">), subject };
	const generated = webpush.generateVAPIDKeys();
	ensurePrivateDir(dir);
	try {
		writeFileSync(path, JSON.stringify(generated), { mode: 0o600, flag: "wx" });
	} catch {
		// Another process of this install wrote them first.
		return { ...(JSON.parse(readFileSync(path, "utf8")) as Omit<VapidKeys, "subject">), subject };
	}
	return { ...generated, subject };
}

/** Sends Web Push messages; a subscription the push service no longer knows (404, 410) is reported as gone. */
export class PushSender {
	constructor(
		private readonly keys: VapidKeys,
		private readonly timeoutMs = 10_000,
		/** How to reach push services, e.g. through a proxy's agent. */
		private readonly agent?: Agent,
	) {}

	get publicKey(): string {
		return this.keys.publicKey;
	}

	async send(target: PushTarget, payload: string): Promise<"sent" | "gone"> {
		try {
			await webpush.sendNotification({ endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } }, payload, {
				vapidDetails: this.keys,
				TTL: 24 * 3600,
				timeout: this.timeoutMs,
				...(this.agent ? { agent: this.agent } : {}),
			});
			return "sent";
		} catch (err) {
			if (err instanceof WebPushError && (err.statusCode === 404 || err.statusCode === 410)) return "gone";
			throw err;
		}
	}
}

/**
 * The server POSTs to a subscription's endpoint: in production only https to a named host, never an address
 * literal or localhost, so a subscription cannot aim the notifications node at the internal network.
 */
export function isPublicPushEndpoint(endpoint: string): boolean {
	let url: URL;
	try {
		url = new URL(endpoint);
	} catch {
		return false;
	}
	const host = url.hostname.toLowerCase();
	return url.protocol === "https:" && !isIP(host.replace(/^\[|\]$/g, "")) && host !== "localhost" && !host.endsWith(".localhost") && host.includes(".");
}

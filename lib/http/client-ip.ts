import type { IncomingMessage } from "node:http";

function normalize(address: string | undefined): string {
	if (!address) return "unknown";
	const trimmed = address.trim();
	return trimmed.startsWith("::ffff:") ? trimmed.slice("::ffff:".length) : trimmed;
}

/**
 * The caller's address. `X-Forwarded-For` is believed only when the connection comes from a configured proxy,
 * and then only up to the first hop that is not a trusted proxy: anything further left could be forged.
 */
export function clientIp(req: IncomingMessage, trustedProxies: ReadonlySet<string>): string {
	const peer = normalize(req.socket.remoteAddress);
	const forwarded = req.headers["x-forwarded-for"];
	if (!trustedProxies.has(peer) || !forwarded) return peer;
	const hops = (Array.isArray(forwarded) ? forwarded.join(",") : forwarded)
		.split(",")
		.map(normalize)
		.filter((hop) => hop.length > 0);
	for (let i = hops.length - 1; i >= 0; i--) {
		if (!trustedProxies.has(hops[i])) return hops[i];
	}
	return hops[0] ?? peer;
}

export function trustedProxySet(addresses: string[]): ReadonlySet<string> {
	return new Set(addresses.map(normalize));
}

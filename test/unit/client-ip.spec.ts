import type { IncomingMessage } from "node:http";
import { clientIp, trustedProxySet } from "../../lib/http/client-ip";

function request(peer: string | undefined, forwardedFor?: string | string[]): IncomingMessage {
	const headers = forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor };
	return { socket: { remoteAddress: peer }, headers } as unknown as IncomingMessage;
}

describe("clientIp", () => {
	const proxies = trustedProxySet(["10.0.0.1", "10.0.0.2"]);

	it("is the peer's address when no proxy is trusted, whatever X-Forwarded-For claims", () => {
		expect(clientIp(request("192.0.2.10", "203.0.113.5"), trustedProxySet([]))).toBe("192.0.2.10");
	});

	it("is the peer's address when the peer is not a trusted proxy", () => {
		expect(clientIp(request("192.0.2.10", "203.0.113.5"), proxies)).toBe("192.0.2.10");
	});

	it("is the forwarded address when a trusted proxy forwards it", () => {
		expect(clientIp(request("10.0.0.1", "203.0.113.5"), proxies)).toBe("203.0.113.5");
	});

	it("is the first untrusted hop from the right, so a client cannot forge its way in on the left", () => {
		expect(clientIp(request("10.0.0.1", "198.51.100.66, 203.0.113.5, 10.0.0.2"), proxies)).toBe("203.0.113.5");
	});

	it("reads X-Forwarded-For given as several headers", () => {
		expect(clientIp(request("10.0.0.1", ["198.51.100.66", "203.0.113.5"]), proxies)).toBe("203.0.113.5");
	});

	it("is the leftmost hop when every hop is a trusted proxy", () => {
		expect(clientIp(request("10.0.0.1", "10.0.0.2, 10.0.0.1"), proxies)).toBe("10.0.0.2");
	});

	it("is the peer's address when a trusted proxy sends an empty X-Forwarded-For", () => {
		expect(clientIp(request("10.0.0.1", ""), proxies)).toBe("10.0.0.1");
		expect(clientIp(request("10.0.0.1", " , "), proxies)).toBe("10.0.0.1");
	});

	it("reads IPv4-mapped IPv6 addresses as IPv4, for the peer, the hops and the trusted list", () => {
		expect(clientIp(request("::ffff:192.0.2.10"), proxies)).toBe("192.0.2.10");
		expect(clientIp(request("::ffff:10.0.0.1", "::ffff:203.0.113.5"), proxies)).toBe("203.0.113.5");
		expect(clientIp(request("10.0.0.1", "203.0.113.5"), trustedProxySet(["::ffff:10.0.0.1"]))).toBe("203.0.113.5");
	});

	it("keeps IPv6 addresses as they are", () => {
		expect(clientIp(request("2001:db8::1"), proxies)).toBe("2001:db8::1");
	});

	it("is 'unknown' when the socket has no address", () => {
		expect(clientIp(request(undefined), proxies)).toBe("unknown");
	});
});

/**
 * Headers on every answer of the gateway: nothing is sniffed into another type, framed by another site, sent as
 * a referrer, or kept in a shared cache (answers carry tokens and private data).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options": "DENY",
	"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
	"Referrer-Policy": "no-referrer",
	"Cache-Control": "no-store",
};

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** A client's request id, kept for tracing only when it is short and plain; otherwise one is made up. */
export function safeRequestId(sent: string | string[] | undefined): string | undefined {
	return typeof sent === "string" && SAFE_REQUEST_ID.test(sent) ? sent : undefined;
}

/**
 * The one policy of every answer, the web app's pages included: everything comes from this origin, nothing is
 * framed, no plugin runs.
 */
const CONTENT_SECURITY_POLICY = [
	"default-src 'self'",
	// Scripts are the app's own files only: no inline script, no eval, no other origin.
	"script-src 'self'",
	// Mantine, the app's component library, injects its CSS variables in a <style> element; an injected style
	// can restyle a page but runs nothing.
	"style-src 'self' 'unsafe-inline'",
	"img-src 'self' data: blob:",
	"font-src 'self' data:",
	// REST and socket.io: 'self' covers the WebSocket to the same host as well (CSP Level 3).
	"connect-src 'self'",
	"worker-src 'self'",
	"manifest-src 'self'",
	"object-src 'none'",
	"base-uri 'none'",
	"form-action 'self'",
	"frame-ancestors 'none'",
].join("; ");

/**
 * Headers on every answer of the gateway: nothing is sniffed into another type, framed by another site, sent as
 * a referrer, shares a window with another site, or kept in a shared cache (answers carry tokens and private
 * data; the web app's files set their own caching, services/api/web-app.ts).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
	"Content-Security-Policy": CONTENT_SECURITY_POLICY,
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options": "DENY",
	"Referrer-Policy": "no-referrer",
	"Cross-Origin-Opener-Policy": "same-origin",
	"Permissions-Policy": "camera=(), microphone=(), geolocation=()",
	"Cache-Control": "no-store",
};

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** A client's request id, kept for tracing only when it is short and plain; otherwise one is made up. */
export function safeRequestId(sent: string | string[] | undefined): string | undefined {
	return typeof sent === "string" && SAFE_REQUEST_ID.test(sent) ? sent : undefined;
}

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

const IV_BYTES = 12;

function keyFrom(secret: string, purpose: string): Buffer {
	return Buffer.from(hkdfSync("sha256", Buffer.from(secret, "utf8"), Buffer.alloc(0), `colony:${purpose}`, 32));
}

/**
 * Seals `plaintext` (AES-256-GCM) under a key derived from `secret`, so only a holder of the secret can open it:
 * e.g. the answer to a request, kept for a retry of that request, under the token the request carried.
 */
export function sealWithSecret(secret: string, plaintext: string, purpose: string): string {
	const iv = randomBytes(IV_BYTES);
	const cipher = createCipheriv("aes-256-gcm", keyFrom(secret, purpose), iv);
	const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
	return [iv, cipher.getAuthTag(), data].map((part) => part.toString("base64url")).join(".");
}

/** Opens what `sealWithSecret` sealed with the same secret and purpose; throws when either differs. */
export function openWithSecret(secret: string, sealed: string, purpose: string): string {
	const [iv, tag, data] = sealed.split(".").map((part) => Buffer.from(part, "base64url"));
	if (!iv || !tag || !data) throw new Error("Unrecognised sealed value");
	const decipher = createDecipheriv("aes-256-gcm", keyFrom(secret, purpose), iv);
	decipher.setAuthTag(tag);
	return Buffer.concat([decipher.update(data), decipher.final()]).toString("utf8");
}

import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from "node:crypto";

const CIPHER = "aes-256-gcm";
const IV_BYTES = 12;
const FORMAT_VERSION = "v1";

function deriveKey(master: Buffer, purpose: string): Buffer {
	return Buffer.from(hkdfSync("sha256", master, Buffer.alloc(0), `colony:${purpose}`, 32));
}

/** A short, stable id of a key, stored with each ciphertext so rows can name the key that sealed them. */
export function keyId(key: Buffer): string {
	return createHash("sha256").update(key).digest("hex").slice(0, 8);
}

/**
 * Field-level encryption with AES-256-GCM. Ciphertexts read `v1.<keyId>.<iv>.<tag>.<data>` (base64url parts),
 * so a key can be rotated: new rows use the current key, old rows stay readable with the previous keys.
 */
export class FieldCipher {
	private readonly current: { id: string; key: Buffer };
	private readonly keys = new Map<string, Buffer>();
	private readonly indexKey: Buffer;

	/**
	 * `indexKey` keys the blind index. It must outlive key rotation (a new index key would miss every existing
	 * row), so it defaults to the data key and is configured separately once that key is rotated.
	 */
	constructor(dataKey: Buffer, previousKeys: Buffer[] = [], indexKey: Buffer = dataKey) {
		for (const master of [dataKey, ...previousKeys]) {
			this.keys.set(keyId(master), deriveKey(master, "field-encryption"));
		}
		const id = keyId(dataKey);
		this.current = { id, key: this.keys.get(id)! };
		this.indexKey = deriveKey(indexKey, "blind-index");
	}

	get currentKeyId(): string {
		return this.current.id;
	}

	encrypt(plaintext: string, associatedData = ""): string {
		const iv = randomBytes(IV_BYTES);
		const cipher = createCipheriv(CIPHER, this.current.key, iv);
		cipher.setAAD(Buffer.from(associatedData));
		const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
		return [FORMAT_VERSION, this.current.id, iv, cipher.getAuthTag(), data]
			.map((part) => (typeof part === "string" ? part : part.toString("base64url")))
			.join(".");
	}

	decrypt(sealed: string, associatedData = ""): string {
		const [version, id, iv, tag, data] = sealed.split(".");
		if (version !== FORMAT_VERSION || data === undefined) throw new Error("Unrecognised ciphertext format");
		const key = this.keys.get(id);
		if (!key) throw new Error(`No data key with id ${id} is configured`);
		const decipher = createDecipheriv(CIPHER, key, Buffer.from(iv, "base64url"));
		decipher.setAAD(Buffer.from(associatedData));
		decipher.setAuthTag(Buffer.from(tag, "base64url"));
		return Buffer.concat([decipher.update(Buffer.from(data, "base64url")), decipher.final()]).toString("utf8");
	}

	/** Keyed HMAC of a normalised value: equal inputs give equal digests, so it can be indexed and unique. */
	blindIndex(value: string): string {
		return createHmac("sha256", this.indexKey).update(value).digest("hex");
	}
}

export function sha256Hex(value: string): string {
	return createHash("sha256").update(value).digest("hex");
}

export function randomToken(bytes = 32): string {
	return randomBytes(bytes).toString("base64url");
}

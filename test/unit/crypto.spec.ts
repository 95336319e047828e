import { randomBytes } from "node:crypto";
import { FieldCipher, keyId, randomToken, sha256Hex } from "../../lib/crypto/field-cipher";

const OLD_KEY = Buffer.alloc(32, 1);
const NEW_KEY = Buffer.alloc(32, 2);
const EMAIL = "alice@example.com";

/** The sealed value with one character of its part `index` changed (0 version, 1 key id, 2 iv, 3 tag, 4 data). */
function tamper(sealed: string, index: number): string {
	const parts = sealed.split(".");
	const part = parts[index];
	parts[index] = (part[0] === "A" ? "B" : "A") + part.slice(1);
	return parts.join(".");
}

describe("FieldCipher", () => {
	const cipher = new FieldCipher(OLD_KEY);

	it("decrypts what it encrypted", () => {
		expect(cipher.decrypt(cipher.encrypt(EMAIL, "users.email"), "users.email")).toBe(EMAIL);
		expect(cipher.decrypt(cipher.encrypt(""))).toBe("");
		expect(cipher.decrypt(cipher.encrypt("Grüße, 世界 🎉"))).toBe("Grüße, 世界 🎉");
	});

	it("seals the same value differently each time and never shows it", () => {
		const first = cipher.encrypt(EMAIL);
		const second = cipher.encrypt(EMAIL);

		expect(first).not.toBe(second);
		expect(first).not.toContain("alice");
		expect(first.split(".")).toHaveLength(5);
		expect(first.startsWith(`v1.${keyId(OLD_KEY)}.`)).toBe(true);
	});

	it.each([
		["initialisation vector", 2],
		["authentication tag", 3],
		["encrypted data", 4],
	])("refuses a value whose %s was altered", (_part, index) => {
		const sealed = cipher.encrypt(EMAIL, "users.email");

		expect(() => cipher.decrypt(tamper(sealed, index), "users.email")).toThrow();
	});

	it("refuses a value sealed for another field (wrong associated data)", () => {
		const sealed = cipher.encrypt(EMAIL, "users.email");

		expect(() => cipher.decrypt(sealed, "chat.body")).toThrow();
		expect(() => cipher.decrypt(sealed)).toThrow();
	});

	it("refuses a value that is not in its format", () => {
		expect(() => cipher.decrypt(EMAIL)).toThrow("Unrecognised ciphertext format");
		expect(() => cipher.decrypt(cipher.encrypt(EMAIL).replace(/^v1/, "v2"))).toThrow("Unrecognised ciphertext format");
	});

	it("refuses a value sealed with a key it does not have", () => {
		const stranger = new FieldCipher(randomBytes(32));

		expect(() => cipher.decrypt(stranger.encrypt(EMAIL))).toThrow(/No data key with id/);
	});

	describe("after the data key is rotated", () => {
		const sealedBefore = new FieldCipher(OLD_KEY).encrypt(EMAIL, "users.email");
		const rotated = new FieldCipher(NEW_KEY, [OLD_KEY], OLD_KEY);

		it("still decrypts values sealed with the old key when it is among the previous keys", () => {
			expect(rotated.decrypt(sealedBefore, "users.email")).toBe(EMAIL);
		});

		it("seals new values with the new key", () => {
			const sealed = rotated.encrypt(EMAIL);

			expect(rotated.currentKeyId).toBe(keyId(NEW_KEY));
			expect(sealed.split(".")[1]).toBe(keyId(NEW_KEY));
			expect(() => new FieldCipher(OLD_KEY).decrypt(sealed)).toThrow(/No data key with id/);
		});

		it("no longer decrypts old values once the old key is dropped", () => {
			expect(() => new FieldCipher(NEW_KEY).decrypt(sealedBefore, "users.email")).toThrow(/No data key with id/);
		});

		it("keeps blind indexes stable when the index key is kept", () => {
			expect(rotated.blindIndex(EMAIL)).toBe(new FieldCipher(OLD_KEY).blindIndex(EMAIL));
		});

		it("would lose every existing blind index if the index key followed the data key", () => {
			expect(new FieldCipher(NEW_KEY, [OLD_KEY]).blindIndex(EMAIL)).not.toBe(new FieldCipher(OLD_KEY).blindIndex(EMAIL));
		});
	});

	describe("blind index", () => {
		it("gives equal values equal digests and different values different ones", () => {
			expect(cipher.blindIndex(EMAIL)).toBe(cipher.blindIndex(EMAIL));
			expect(cipher.blindIndex(EMAIL)).not.toBe(cipher.blindIndex("bob@example.com"));
			expect(cipher.blindIndex(EMAIL)).toMatch(/^[0-9a-f]{64}$/);
		});

		it("is keyed: it is not a plain hash of the value, and another key gives another digest", () => {
			expect(cipher.blindIndex(EMAIL)).not.toBe(sha256Hex(EMAIL));
			expect(cipher.blindIndex(EMAIL)).not.toBe(new FieldCipher(NEW_KEY).blindIndex(EMAIL));
		});
	});
});

describe("hashing and random tokens", () => {
	it("sha256Hex gives the standard SHA-256 digest", () => {
		expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	});

	it("randomToken gives URL-safe tokens of the requested strength, never twice the same", () => {
		const tokens = new Set(Array.from({ length: 100 }, () => randomToken(32)));

		expect(tokens.size).toBe(100);
		for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
		expect(Buffer.from(randomToken(16), "base64url")).toHaveLength(16);
	});
});

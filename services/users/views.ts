import { Errors } from "moleculer";
import type { FieldCipher } from "../../lib/crypto/field-cipher";
import { isRole, type Role } from "../../lib/auth/permissions";
import type { PublicUser, SessionUser } from "../../types/users";
import type { UserRow } from "./tables";

/** Emails are shown to their owner and to user admins only. */
export function mayReadEmail(viewer: SessionUser | null | undefined, userId: number): boolean {
	return Boolean(viewer && (viewer.id === userId || viewer.permissions.includes("users:admin")));
}

export function parseRoles(stored: string): Role[] {
	return stored.split(",").filter(isRole);
}

/** What answers about a user are made from: the row without the password hash and the email's blind index. */
export type ProfileRow = Omit<UserRow, "passwordHash" | "emailIndex" | "failedLogins" | "lastFailedLoginAt" | "loginBlockedUntil">;

/**
 * Emails opened recently, by ciphertext: `users.me` answers with the caller's email on nearly every request, and
 * opening it each time was a tenth of that request's cost. Plaintexts stay in this process's memory only.
 */
const openedEmails = new Map<string, string>();
const OPENED_EMAILS_LIMIT = 5_000;

function openEmail(cipher: FieldCipher, sealed: string): string {
	let email = openedEmails.get(sealed);
	if (email === undefined) {
		email = cipher.decrypt(sealed, "users.email");
		if (openedEmails.size >= OPENED_EMAILS_LIMIT) openedEmails.delete(openedEmails.keys().next().value!);
		openedEmails.set(sealed, email);
	}
	return email;
}

/** A user as answers show it: never the password hash, the email only when `cipher` is given to open it. */
export function toPublicUser(row: ProfileRow, emailCipher: FieldCipher | null): PublicUser {
	const user: PublicUser = {
		id: row.id,
		username: row.username,
		displayName: row.displayName,
		roles: parseRoles(row.roles),
		createdAt: new Date(row.createdAt).toISOString(),
	};
	// The assistant's address is a placeholder no one can write to: it is not shown.
	if (row.roles.split(",").includes("assistant")) user.assistant = true;
	else if (emailCipher) user.email = openEmail(emailCipher, row.emailCiphertext);
	return user;
}

export function encodeCursor(id: number): string {
	return Buffer.from(String(id)).toString("base64url");
}

export function decodeCursor(cursor: string): number {
	const decoded = Buffer.from(cursor, "base64url").toString();
	const id = Number(decoded);
	// Number() also reads "", "1e3" and "0x10": only the decimal ids encodeCursor writes are cursors.
	if (!/^\d+$/.test(decoded) || !Number.isSafeInteger(id)) {
		throw new Errors.ValidationError("cursor is not valid", "VALIDATION_ERROR", [
			{ field: "cursor", type: "cursor", message: "The 'cursor' field is not a cursor this API returned." },
		]);
	}
	return id;
}

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

/** A user as answers show it: never the password hash, the email only when `cipher` is given to open it. */
export function toPublicUser(row: UserRow, emailCipher: FieldCipher | null): PublicUser {
	const user: PublicUser = {
		id: row.id,
		username: row.username,
		displayName: row.displayName,
		roles: parseRoles(row.roles),
		createdAt: new Date(row.createdAt).toISOString(),
	};
	if (emailCipher) user.email = emailCipher.decrypt(row.emailCiphertext, "users.email");
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

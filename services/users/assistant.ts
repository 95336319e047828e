import { UniqueConstraintError } from "sequelize";
import type { ServiceBroker } from "moleculer";
import type { PasswordHasher } from "../../lib/auth/passwords";
import { randomToken, type FieldCipher } from "../../lib/crypto/field-cipher";
import type { AssistantAccount } from "../../types/users";
import type { UserRow, UsersTables } from "./tables";

/** The stored role that marks the assistant's account; it grants no permission and no one can sign in as it. */
export const ASSISTANT_ROLE = "assistant";
/** Tried in order: a person may already hold `ai` on an older installation, and their account stays theirs. */
const ASSISTANT_USERNAMES = ["ai", "assistant", "colony-ai"];
const ASSISTANT_EMAIL = "assistant@colony.invalid";

export function isAssistantRow(row: Pick<UserRow, "roles">): boolean {
	return row.roles.split(",").includes(ASSISTANT_ROLE);
}

/**
 * Finds or creates the assistant's account (DESIGN §3: "the @ai mention or a DM to the assistant"). Several users
 * nodes may start at once: the one whose insert loses the race reads the winner's row.
 */
export async function ensureAssistantAccount(tables: UsersTables, cipher: FieldCipher, hasher: PasswordHasher, logger: ServiceBroker["logger"]): Promise<AssistantAccount> {
	for (const username of ASSISTANT_USERNAMES) {
		let row = (await tables.users.findOne({ where: { username } }))?.get({ plain: true });
		if (!row) {
			try {
				row = (
					await tables.users.create({
						username,
						displayName: "Colony AI",
						emailCiphertext: cipher.encrypt(ASSISTANT_EMAIL, "users.email"),
						emailIndex: cipher.blindIndex(ASSISTANT_EMAIL),
						// A password no one knows: the account exists to author the assistant's messages.
						passwordHash: await hasher.hash(randomToken(32)),
						roles: ASSISTANT_ROLE,
					})
				).get({ plain: true });
			} catch (err) {
				if (!(err instanceof UniqueConstraintError)) throw err;
				row = (await tables.users.findOne({ where: { username } }))?.get({ plain: true });
				// The email is taken by the assistant under another name: that one is found on its own turn.
				if (!row) continue;
			}
		}
		if (isAssistantRow(row)) return { id: row.id, username: row.username, displayName: row.displayName };
		logger.warn(`The username '${username}' belongs to a person, so the assistant answers to another name`);
	}
	const existing = (await tables.users.findOne({ where: { emailIndex: cipher.blindIndex(ASSISTANT_EMAIL) } }))?.get({ plain: true });
	if (existing && isAssistantRow(existing)) return { id: existing.id, username: existing.username, displayName: existing.displayName };
	throw new Error(`No name is free for the assistant's account (tried ${ASSISTANT_USERNAMES.join(", ")})`);
}

import argon2 from "argon2";

/** argon2id with OWASP's minimum recommended cost (19 MiB, 2 passes, 1 lane). */
export interface PasswordHashCost {
	memoryCost: number;
	timeCost: number;
}

export const DEFAULT_PASSWORD_COST: PasswordHashCost = { memoryCost: 19_456, timeCost: 2 };

export function hashPassword(password: string, cost: PasswordHashCost = DEFAULT_PASSWORD_COST): Promise<string> {
	return argon2.hash(password, { type: argon2.argon2id, parallelism: 1, ...cost });
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
	try {
		return await argon2.verify(hash, password);
	} catch {
		return false;
	}
}

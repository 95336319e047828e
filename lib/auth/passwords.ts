import argon2 from "argon2";
import { availableParallelism } from "node:os";

/** argon2id with OWASP's minimum recommended cost (19 MiB, 2 passes, 1 lane). */
export interface PasswordHashCost {
	memoryCost: number;
	timeCost: number;
}

export const DEFAULT_PASSWORD_COST: PasswordHashCost = { memoryCost: 19_456, timeCost: 2 };

/** Too many password checks are already waiting: the caller should come back in a moment. */
export class PasswordWorkBusyError extends Error {
	constructor() {
		super("Too many password checks at once");
	}
}

/**
 * Hashes and checks passwords with a bound on the work in progress: argon2 is meant to be costly, and a flood of
 * logins would otherwise take every core and make a real login wait as long as the flood. At most `concurrency`
 * run at once, at most `queueLimit` wait, and the rest are refused at once.
 */
export class PasswordHasher {
	private running = 0;
	private readonly waiting: (() => void)[] = [];

	constructor(
		private readonly cost: PasswordHashCost = DEFAULT_PASSWORD_COST,
		private readonly concurrency = availableParallelism(),
		private readonly queueLimit = 32,
	) {}

	hash(password: string): Promise<string> {
		return this.limited(() => argon2.hash(password, { type: argon2.argon2id, parallelism: 1, ...this.cost }));
	}

	verify(hash: string, password: string): Promise<boolean> {
		return this.limited(() => argon2.verify(hash, password).catch(() => false));
	}

	private async limited<T>(work: () => Promise<T>): Promise<T> {
		if (this.running >= this.concurrency) {
			if (this.waiting.length >= this.queueLimit) throw new PasswordWorkBusyError();
			await new Promise<void>((resolve) => this.waiting.push(resolve));
		} else {
			this.running += 1;
		}
		try {
			return await work();
		} finally {
			// The slot passes straight to the next in line, or is given back.
			const next = this.waiting.shift();
			if (next) next();
			else this.running -= 1;
		}
	}
}

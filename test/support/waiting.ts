/** Polls `check` every 25 ms until it holds, failing with `what` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await check())) {
		if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 25));
	}
}

/** The error `promise` is rejected with; fails the test when it resolves. */
export async function refused<E = Error>(promise: Promise<unknown>): Promise<E> {
	try {
		await promise;
	} catch (err) {
		return err as E;
	}
	throw new Error("expected the call to be refused");
}

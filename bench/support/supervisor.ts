import type { NodeProcess } from "./processes";

/** Things to undo at the end of the run, newest first, each given its chance even when another fails. */
export class Cleanup {
	private readonly steps: { what: string; undo: () => Promise<void> | void }[] = [];

	add(what: string, undo: () => Promise<void> | void): void {
		this.steps.push({ what, undo });
	}

	async run(): Promise<void> {
		for (const step of this.steps.splice(0).reverse()) {
			try {
				await step.undo();
			} catch (err) {
				console.error(`cleanup: ${step.what} failed: ${(err as Error).message}`);
			}
		}
	}
}

/**
 * One bench run and the children it starts: a crashed child or an interrupt ends the run at once, the cleanup
 * runs whatever happened, and no child outlives the bench.
 */
export class Supervisor {
	readonly cleanup = new Cleanup();
	private readonly killers: (() => void)[] = [];
	private fail: (err: Error) => void = () => undefined;
	/** Rejects when a child process crashes or the bench is interrupted. */
	private readonly failure = new Promise<never>((_, reject) => {
		this.fail = reject;
	});

	constructor() {
		this.failure.catch(() => undefined);
		for (const signal of ["SIGINT", "SIGTERM"] as const) {
			process.once(signal, () => this.fail(new Error(`interrupted by ${signal}`)));
		}
		process.once("exit", () => this.killers.forEach((kill) => kill()));
	}

	/** A node whose early exit fails the run. */
	track(node: NodeProcess): void {
		this.killOnExit(() => node.killNow());
		node.crashed.catch((err: Error) => this.fail(err));
	}

	/** The last resort for a child when the bench itself exits: synchronous, no grace. */
	killOnExit(kill: () => void): void {
		this.killers.push(kill);
	}

	/** Runs `work` until it ends or the run fails, then the cleanup; rethrows the first failure. */
	async run(work: () => Promise<void>): Promise<void> {
		try {
			const working = work();
			working.catch(() => undefined);
			await Promise.race([working, this.failure]);
		} finally {
			await this.cleanup.run();
		}
	}
}

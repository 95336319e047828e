import { Errors, type Context, type Middleware } from "moleculer";

/**
 * A middleware for tests: the next call of a chosen action runs to the end, and then its answer is lost, as when
 * the caller's timeout fires just after the work was done. It counts how often each action's handler ran.
 */
export class LostAnswers {
	private readonly pending = new Set<string>();
	readonly runs = new Map<string, number>();

	readonly middleware: Middleware = {
		name: "LostAnswers",
		localAction: (handler: (ctx: Context) => Promise<unknown>, action: { name?: string }) => {
			const name = action.name ?? "";
			return async (ctx: Context) => {
				const result = await handler(ctx);
				this.runs.set(name, (this.runs.get(name) ?? 0) + 1);
				if (this.pending.delete(name)) {
					throw new Errors.RequestTimeoutError({ action: name, nodeID: ctx.nodeID ?? "" });
				}
				return result;
			};
		},
	};

	/** The answer of the next call of `action` is lost after its handler ran. */
	loseNextAnswer(action: string): void {
		this.pending.add(action);
	}

	runsOf(action: string): number {
		return this.runs.get(action) ?? 0;
	}
}

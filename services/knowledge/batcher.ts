/**
 * Collects items for a moment and hands them over in one batch (one embedding call for many chat messages), one
 * batch at a time. Other work can be put in the same line (`inTurn`), so a removal never overtakes the batch that
 * is writing the same item.
 */
export class KeyedBatcher<K, V> {
	private readonly pending = new Map<K, V>();
	/** The batch that will take the pending items. */
	private next?: Promise<void>;
	private tail: Promise<void> = Promise.resolve();

	constructor(
		private readonly delayMs: number,
		private readonly handle: (items: V[]) => Promise<void>,
	) {}

	/** Queues `value` (instead of a queued one of the same key); resolves once its batch was handled. */
	add(key: K, value: V): Promise<void> {
		this.pending.set(key, value);
		this.next ??= this.inTurn(async () => {
			await new Promise((resolve) => setTimeout(resolve, this.delayMs));
			const items = [...this.pending.values()];
			this.pending.clear();
			this.next = undefined;
			if (items.length > 0) await this.handle(items);
		});
		return this.next;
	}

	/** Forgets a queued item that no batch took yet. */
	drop(key: K): void {
		this.pending.delete(key);
	}

	/** Runs `work` after every batch and work queued before it. */
	inTurn(work: () => Promise<void>): Promise<void> {
		const run = this.tail.then(work);
		this.tail = run.catch(() => undefined);
		return run;
	}

	/** Resolves when everything queued so far is done. */
	async drain(): Promise<void> {
		await this.next?.catch(() => undefined);
		await this.tail;
	}
}

import type { OutboxStorage } from "./storage";

/** A message waiting for the server's acknowledgement; its `clientMsgId` makes resending it harmless. */
export interface OutboxItem {
	clientMsgId: string;
	channelId: number;
	text: string;
	parentId?: number;
	/** When it was handed to the bridge (ISO 8601). */
	queuedAt: string;
}

/**
 * The ordered list of unacknowledged messages, kept as one JSON value in an `OutboxStorage`. Operations run one
 * after another, so an add racing a remove cannot lose either.
 */
export class Outbox {
	private tail: Promise<unknown> = Promise.resolve();

	constructor(
		private readonly storage: OutboxStorage,
		private readonly key: string,
	) {}

	items(): Promise<OutboxItem[]> {
		return this.serially(() => this.read());
	}

	add(item: OutboxItem): Promise<void> {
		return this.serially(async () => {
			const items = await this.read();
			if (items.some((queued) => queued.clientMsgId === item.clientMsgId)) return;
			await this.write([...items, item]);
		});
	}

	remove(clientMsgId: string): Promise<void> {
		return this.serially(async () => {
			const items = await this.read();
			const left = items.filter((item) => item.clientMsgId !== clientMsgId);
			if (left.length !== items.length) await this.write(left);
		});
	}

	private serially<T>(operation: () => Promise<T>): Promise<T> {
		const result = this.tail.then(operation, operation);
		this.tail = result.catch(() => undefined);
		return result;
	}

	private async read(): Promise<OutboxItem[]> {
		const raw = await this.storage.getItem(this.key);
		if (!raw) return [];
		let parsed: unknown;
		try {
			parsed = JSON.parse(raw);
		} catch {
			return [];
		}
		return Array.isArray(parsed) ? parsed.filter(isOutboxItem) : [];
	}

	private async write(items: OutboxItem[]): Promise<void> {
		await this.storage.setItem(this.key, JSON.stringify(items));
	}
}

function isOutboxItem(value: unknown): value is OutboxItem {
	if (typeof value !== "object" || value === null) return false;
	const item = value as Record<string, unknown>;
	return typeof item.clientMsgId === "string" && typeof item.channelId === "number" && typeof item.text === "string";
}

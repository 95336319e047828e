import { Cachers, type ServiceBroker } from "moleculer";
import type Redis from "ioredis";
import { failureLog, type FailureLog } from "./failures";

/** How long the cache is bypassed after a failed command, so requests do not each wait on a sick Redis. */
const BYPASS_AFTER_FAILURE_MS = 3_000;

type RedisCacherOptions = ConstructorParameters<typeof Cachers.Redis>[0];

/**
 * Moleculer's Redis cacher, made optional: while Redis is down or failing, reads miss and writes are skipped (the
 * action answers from its database), and when Redis is back everything cached is dropped once, since entity
 * changes made meanwhile could not clean it.
 */
export class ResilientRedisCacher extends Cachers.Redis {
	private bypassUntil = 0;
	/** A clean failed or was skipped: what Redis holds may be stale, and is dropped before it is used again. */
	private missedCleans = false;
	private recovering?: Promise<void>;
	private failures?: FailureLog;

	constructor(options: RedisCacherOptions) {
		super(options);
	}

	override init(broker: ServiceBroker): void {
		super.init(broker);
		this.failures = failureLog(broker);
		const client = (this as unknown as { client: Redis }).client;
		// The base cacher logs every reconnection error; an outage is reported once per burst instead.
		client.removeAllListeners("error");
		client.on("error", (err: Error) => {
			(this as unknown as { connected: boolean }).connected = false;
			this.missedCleans = true;
			this.failures?.report("redis cache", err);
		});
		client.on("ready", () => void this.recover());
	}

	override async get(key: string): Promise<Record<string, unknown> | null> {
		// Moleculer takes exactly `missingResponse` for a miss; anything else (null too) would be served as the answer.
		const miss = (this.opts as { missingResponse?: Record<string, unknown> | null }).missingResponse as Record<string, unknown> | null;
		if (!this.usable || !(await this.recover())) return miss;
		return super.get(key).catch((err: Error) => {
			this.failed(err, false);
			return miss;
		});
	}

	override async set(key: string, data: unknown, ttl?: number): Promise<void> {
		if (!this.usable || !(await this.recover())) return;
		await super.set(key, data, ttl).catch((err: Error) => this.failed(err, false));
	}

	override async del(key: string | string[]): Promise<void> {
		if (!this.usable) {
			this.missedCleans = true;
			return;
		}
		await super.del(key).catch((err: Error) => this.failed(err, true));
	}

	override async clean(match?: string | string[]): Promise<void> {
		if (!this.usable) {
			this.missedCleans = true;
			return;
		}
		await super.clean(match).catch((err: Error) => this.failed(err, true));
	}

	/** Drops everything cached once, if a clean was lost (after an outage, or while Redis hung); true when done. */
	private async recover(): Promise<boolean> {
		if (!this.missedCleans) return true;
		this.recovering ??= super
			.clean()
			.then(
				() => {
					this.missedCleans = false;
				},
				(err: Error) => {
					this.failed(err, true);
				},
			)
			.finally(() => {
				this.recovering = undefined;
			});
		await this.recovering;
		return !this.missedCleans;
	}

	private get usable(): boolean {
		const client = (this as unknown as { client: Redis }).client;
		return client.status === "ready" && Date.now() >= this.bypassUntil;
	}

	private failed(err: Error, lostAClean: boolean): undefined {
		this.bypassUntil = Date.now() + BYPASS_AFTER_FAILURE_MS;
		if (lostAClean) this.missedCleans = true;
		this.failures?.report("redis cache", err);
		return undefined;
	}
}

import type { AiHostStatus } from "../../types/ai";

/** A host not heard from for this long gets no new work: its node or its process is gone or stuck. */
export const HOST_STALE_AFTER_MS = 5_000;
/** Long enough for a request's retries, which Moleculer spaces by at most a second. */
const FAILURES_KEPT_MS = 30_000;
const NO_NODES: ReadonlySet<string> = new Set();

/** What this broker did with a host since its last report: requests sent, and requests the report had that ended. */
interface SinceReport {
	at: number;
	sent: number;
	endedOfEarlier: number;
}

/**
 * What one broker knows of the AI hosts: the status each `ai` node last broadcast (its load up to 200 ms old,
 * the rest up to a heartbeat), corrected by what this broker itself sent to each since and got back.
 */
export class AiHostBoard {
	private readonly statuses = new Map<string, AiHostStatus & { receivedAt: number }>();
	private readonly pending = new Map<string, number>();
	private readonly sinceReport = new Map<string, SinceReport>();
	/** The hosts each request (by request id) failed on, so its retries go elsewhere while its host is still listed. */
	private readonly failures = new Map<string, { nodes: Set<string>; at: number }>();

	update(status: AiHostStatus, now = Date.now()): void {
		this.statuses.set(status.nodeID, { ...status, receivedAt: now });
		this.sinceReport.set(status.nodeID, { at: performance.now(), sent: 0, endedOfEarlier: 0 });
	}

	forget(nodeID: string): void {
		this.statuses.delete(nodeID);
	}

	status(nodeID: string): (AiHostStatus & { receivedAt: number }) | undefined {
		return this.statuses.get(nodeID);
	}

	all(): AiHostStatus[] {
		return [...this.statuses.values()];
	}

	/** Healthy and heard from recently; a host never heard from is given the benefit of the doubt. */
	usable(nodeID: string, now = Date.now()): boolean {
		const status = this.statuses.get(nodeID);
		if (!status) return true;
		return status.healthy && now - status.receivedAt < HOST_STALE_AFTER_MS;
	}

	hasLoaded(nodeID: string, model: string): boolean {
		const status = this.statuses.get(nodeID);
		if (!status) return false;
		const wanted = withTag(model);
		return status.loaded.some((loaded) => withTag(loaded.name) === wanted);
	}

	/**
	 * Requests running or waiting on the host: its last report, plus what this broker sent it since, minus what
	 * the report counted of this broker's and has ended since; never less than this broker has in flight there.
	 */
	load(nodeID: string): number {
		const status = this.statuses.get(nodeID);
		const since = this.sinceReport.get(nodeID);
		const reported = status ? status.inFlight + status.queued : 0;
		const estimate = reported + (since?.sent ?? 0) - (since?.endedOfEarlier ?? 0);
		return Math.max(estimate, this.pending.get(nodeID) ?? 0);
	}

	freeSlots(nodeID: string): number {
		const status = this.statuses.get(nodeID);
		return (status?.parallel ?? 1) - this.load(nodeID);
	}

	defaultModel(nodeID: string): string | undefined {
		return this.statuses.get(nodeID)?.defaultModel;
	}

	/** A request went to the host; answers when, for `answered`. */
	sent(nodeID: string): number {
		this.pending.set(nodeID, (this.pending.get(nodeID) ?? 0) + 1);
		const since = this.sinceReport.get(nodeID);
		if (since) since.sent += 1;
		return performance.now();
	}

	/** A request failed on a host; its retries should try the others first. */
	failedOn(requestID: string, nodeID: string, now = Date.now()): void {
		const entry = this.failures.get(requestID) ?? { nodes: new Set<string>(), at: now };
		entry.nodes.add(nodeID);
		entry.at = now;
		this.failures.set(requestID, entry);
		if (this.failures.size > 100) {
			for (const [id, failed] of this.failures) if (now - failed.at > FAILURES_KEPT_MS) this.failures.delete(id);
		}
	}

	/** The hosts this request already failed on (recently). */
	failedFor(requestID: string | null | undefined, now = Date.now()): ReadonlySet<string> {
		const entry = requestID ? this.failures.get(requestID) : undefined;
		return entry && now - entry.at <= FAILURES_KEPT_MS ? entry.nodes : NO_NODES;
	}

	answered(nodeID: string, sentAt = 0): void {
		const since = this.sinceReport.get(nodeID);
		if (since && sentAt >= since.at) since.sent = Math.max(0, since.sent - 1);
		else if (since) since.endedOfEarlier += 1;
		const left = (this.pending.get(nodeID) ?? 1) - 1;
		if (left > 0) this.pending.set(nodeID, left);
		else this.pending.delete(nodeID);
	}
}

/** `llama3.2` and `llama3.2:latest` name the same model. */
export function withTag(model: string): string {
	return model.includes(":") ? model : `${model}:latest`;
}

const boards = new WeakMap<object, AiHostBoard>();

/** The board of one broker, shared by its services, strategies and middlewares. */
export function hostBoard(broker: object): AiHostBoard {
	let board = boards.get(broker);
	if (!board) boards.set(broker, (board = new AiHostBoard()));
	return board;
}

import type { ServiceBroker } from "moleculer";

export type ReadinessProbe = () => Promise<boolean> | boolean;

interface RegisteredProbe {
	probe: ReadinessProbe;
	/** A failing optional probe marks the node degraded, not unready: it still serves, on a fallback. */
	required: boolean;
}

const probesByBroker = new WeakMap<ServiceBroker, Map<string, RegisteredProbe>>();
const PROBE_TIMEOUT_MS = 2_000;

/** Lets a service say what must be connected before this node can take traffic (its database, Redis…). */
export function registerReadinessProbe(broker: ServiceBroker, name: string, probe: ReadinessProbe, options: { required?: boolean } = {}): void {
	let probes = probesByBroker.get(broker);
	if (!probes) probesByBroker.set(broker, (probes = new Map()));
	probes.set(name, { probe, required: options.required ?? true });
}

export function unregisterReadinessProbe(broker: ServiceBroker, name: string): void {
	probesByBroker.get(broker)?.delete(name);
}

async function runProbe(probe: ReadinessProbe): Promise<boolean> {
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<boolean>((resolve) => {
		timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
	});
	try {
		return await Promise.race([Promise.resolve().then(probe), timeout]);
	} catch {
		return false;
	} finally {
		clearTimeout(timer);
	}
}

export interface ReadinessReport {
	ready: boolean;
	checks: Record<string, boolean>;
	/** Optional checks that failed: the node serves without them (e.g. Redis: local rate limits, no shared cache). */
	degraded: string[];
}

export async function checkReadiness(broker: ServiceBroker): Promise<ReadinessReport> {
	const checks: Record<string, boolean> = { broker: broker.started };
	const optional = new Set<string>();
	if (broker.transit) checks.transporter = broker.transit.connected;
	const cacher = broker.cacher as unknown as { connected?: boolean } | null;
	if (cacher && typeof cacher.connected === "boolean") {
		checks.cacher = cacher.connected;
		// Without its cache a node answers from the database: slower, still right.
		optional.add("cacher");
	}
	const probes = probesByBroker.get(broker) ?? new Map<string, RegisteredProbe>();
	const results = await Promise.all([...probes].map(async ([name, { probe, required }]) => [name, await runProbe(probe), required] as const));
	for (const [name, ok, required] of results) {
		checks[name] = ok;
		if (!required) optional.add(name);
	}
	const failed = Object.keys(checks).filter((name) => !checks[name]);
	return { ready: failed.every((name) => optional.has(name)), checks, degraded: failed.filter((name) => optional.has(name)) };
}

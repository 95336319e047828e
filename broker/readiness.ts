import type { ServiceBroker } from "moleculer";

export type ReadinessProbe = () => Promise<boolean> | boolean;

const probesByBroker = new WeakMap<ServiceBroker, Map<string, ReadinessProbe>>();
const PROBE_TIMEOUT_MS = 2_000;

/** Lets a service say what must be connected before this node can take traffic (its database, Redis…). */
export function registerReadinessProbe(broker: ServiceBroker, name: string, probe: ReadinessProbe): void {
	let probes = probesByBroker.get(broker);
	if (!probes) probesByBroker.set(broker, (probes = new Map()));
	probes.set(name, probe);
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
}

export async function checkReadiness(broker: ServiceBroker): Promise<ReadinessReport> {
	const checks: Record<string, boolean> = { broker: broker.started };
	if (broker.transit) checks.transporter = broker.transit.connected;
	const cacher = broker.cacher as unknown as { connected?: boolean } | null;
	if (cacher && typeof cacher.connected === "boolean") checks.cacher = cacher.connected;
	const probes = probesByBroker.get(broker) ?? new Map<string, ReadinessProbe>();
	const results = await Promise.all([...probes].map(async ([name, probe]) => [name, await runProbe(probe)] as const));
	for (const [name, ok] of results) checks[name] = ok;
	return { ready: Object.values(checks).every(Boolean), checks };
}

import { ServiceBroker, type ServiceSchema } from "moleculer";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBrokerOptions } from "../../moleculer.config";
import { clusterBroker, uniqueNamespace } from "../support/cluster";
import { describeIntegration } from "../support/integration";
import { makeTestCertificates, PrivateNats, type TestCertificates } from "../support/nats-server";
import { apiService, gatewayUrl, RestClient, usersService } from "../support/platform";
import { until } from "../support/waiting";

const NATS_USER = "colony";
const NATS_PASSWORD = "a password: with @ and / in it";
const JOBS = "it.secured.jobs";

interface Job {
	id: number;
}

/** A service on one node that takes the durable queue's jobs another node sends. */
function jobsConsumer(received: Job[]): ServiceSchema {
	return {
		name: "secured-jobs",
		channels: {
			[JOBS]: {
				group: "secured-jobs",
				async handler(job: Job) {
					received.push(job);
				},
			},
		},
	};
}

/**
 * Starts a broker NATS should refuse and waits, at most `timeoutMs`, for the transporter's error, which it returns.
 * The broker must not have started by then; it is stopped again either way.
 */
async function refusedStart(broker: ServiceBroker, timeoutMs = 10_000): Promise<Error> {
	let started = false;
	let timer: NodeJS.Timeout | undefined;
	const refusal = new Promise<Error>((resolve, reject) => {
		broker.localBus.once("$transporter.error", (payload: { error: Error }) => resolve(payload.error));
		timer = setTimeout(() => reject(new Error(`no transporter error within ${timeoutMs} ms`)), timeoutMs);
	});
	broker
		.start()
		.then(() => (started = true))
		.catch(() => undefined);
	try {
		const error = await refusal;
		expect(started).toBe(false);
		expect(broker.transit?.connected).toBe(false);
		return error;
	} finally {
		clearTimeout(timer);
		await broker.stop();
	}
}

describeIntegration("a cluster over NATS that demands a password and TLS client certificates", () => {
	const namespace = uniqueNamespace("it-nats-secured");
	const received: Job[] = [];
	let dir: string;
	let certificates: TestCertificates;
	let nats: PrivateNats;
	let nodes: ServiceBroker[] = [];
	let gateway: ServiceBroker;

	/** What every node of the cluster is given: a CA to trust the server by, and its client certificate. */
	const tlsFiles = () => ({ NATS_TLS_CA: certificates.ca, NATS_TLS_CERT: certificates.clientCert, NATS_TLS_KEY: certificates.clientKey });

	/** A node with production's options, as `clusterBroker` builds them, that tries to connect once only. */
	function intruder(nodeID: string, env: Record<string, string>): ServiceBroker {
		const options = createBrokerOptions({ NAMESPACE: namespace, NODE_ID: nodeID, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent", CACHER: "memory", ...env });
		// Moleculer tries a refused connection again every 5 s, even after stop() (its start never ended).
		return new ServiceBroker({ ...options, transit: { ...options.transit, disableReconnect: true } });
	}

	beforeAll(async () => {
		dir = mkdtempSync(join(tmpdir(), "colony-nats-secured-"));
		certificates = makeTestCertificates(dir);
		nats = await PrivateNats.start({
			user: NATS_USER,
			password: NATS_PASSWORD,
			tls: { cert: certificates.serverCert, key: certificates.serverKey, ca: certificates.ca },
			storeDir: join(dir, "jetstream"),
		});
		nodes = [
			// The credentials in the URL on one node, in NATS_USER and NATS_PASSWORD on the other.
			clusterBroker(namespace, "users-1", [usersService(), jobsConsumer(received)], {
				TRANSPORTER: nats.url("nats", { user: NATS_USER, password: NATS_PASSWORD }),
				CACHER: "memory",
				...tlsFiles(),
			}),
			clusterBroker(namespace, "gateway-1", [apiService()], {
				TRANSPORTER: nats.url("tls"),
				NATS_USER,
				NATS_PASSWORD,
				CACHER: "memory",
				...tlsFiles(),
			}),
		];
		gateway = nodes[1];
		await Promise.all(nodes.map((node) => node.start()));
		await gateway.waitForServices(["users"], 15_000);
	});

	afterAll(async () => {
		await Promise.all(nodes.map((node) => node.stop()));
		await nats?.stop();
		if (dir) rmSync(dir, { recursive: true, force: true });
	});

	it("joins the nodes, and a sign-up through the gateway crosses to the users node", async () => {
		expect(gateway.registry.getNodeList({ onlyAvailable: true, withServices: false }).map((node) => node.id)).toContain("users-1");

		const client = new RestClient(gatewayUrl(gateway));
		const ada = await client.signUp("ada");

		expect(ada.username).toBe("ada");
		const me = await client.get("/api/v1/users/me", ada.accessToken);
		expect(me.status).toBe(200);
		expect(me.body).toMatchObject({ username: "ada" });
	});

	it("carries the durable queue's jobs over the same secured NATS", async () => {
		await gateway.sendToChannel(JOBS, { id: 1 });
		await gateway.sendToChannel(JOBS, { id: 2 });

		await until(() => received.length === 2, "the users node took both jobs");
		expect(received.map((job) => job.id).sort()).toEqual([1, 2]);
	});

	it("refuses a node with a wrong password, saying so", async () => {
		const broker = intruder("wrong-password", { TRANSPORTER: nats.url("tls"), NATS_USER, NATS_PASSWORD: "not the password", ...tlsFiles() });

		const error = await refusedStart(broker);

		expect(error.message).toMatch(/authorization violation/i);
	});

	it("refuses a node without a client certificate, the server saying why", async () => {
		const broker = intruder("no-certificate", {
			TRANSPORTER: nats.url("tls", { user: NATS_USER, password: NATS_PASSWORD }),
			NATS_TLS_CA: certificates.ca,
		});

		const error = await refusedStart(broker);

		// The server ends the TLS session after the handshake; NATS's client is not told why and gives up at its timeout.
		expect(error.message).toBe("TIMEOUT");
		expect(nats.output).toContain("client didn't provide a certificate");
	});

	it("refuses a node that does not trust the server's certificate authority, saying so", async () => {
		const broker = intruder("unknown-ca", {
			TRANSPORTER: nats.url("tls", { user: NATS_USER, password: NATS_PASSWORD }),
			NATS_TLS_CERT: certificates.clientCert,
			NATS_TLS_KEY: certificates.clientKey,
		});

		const error = await refusedStart(broker);

		expect(error.message).toMatch(/unable to verify the first certificate/);
	});
});

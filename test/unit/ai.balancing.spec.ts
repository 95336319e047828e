import { ServiceBroker } from "moleculer";
import { hostBoard } from "../../lib/ai/host-board";
import { AiHostsMixin } from "../../mixins/ai-hosts.mixin";
import type { AiChatAnswer } from "../../types/ai";
import type { SessionUser } from "../../types/users";
import { OllamaTestServer } from "../support/ollama-server";
import { aiService, testBroker } from "../support/platform";
import { until } from "../support/waiting";

const SOMEONE: SessionUser = {
	id: 1,
	username: "someone",
	displayName: "Someone",
	roles: ["admin"],
	permissions: ["ai:use"],
	tokenId: "t",
	tokenExpiresAt: Math.floor(Date.now() / 1000) + 3_600,
	sessionId: "s",
};


describe("balancing inference over hosts (brokers in one process, Moleculer's Fake transporter)", () => {
	const hosts = ["gpu-1", "gpu-2", "gpu-3"];
	const ollamas: OllamaTestServer[] = [];
	const brokers: ServiceBroker[] = [];
	let caller: ServiceBroker;

	beforeAll(async () => {
		const namespace = `balancing-${process.pid}`;
		caller = testBroker({ nodeID: "caller", namespace, transporter: "Fake" });
		caller.createService({ name: "watcher", mixins: [AiHostsMixin] });
		brokers.push(caller);
		for (const host of hosts) {
			const ollama = await OllamaTestServer.start({ latencyMs: 5, parallel: 8 });
			ollamas.push(ollama);
			const broker = testBroker({ nodeID: host, namespace, transporter: "Fake" });
			broker.createService(aiService({ ollamaHost: ollama.url, parallel: 8 }));
			brokers.push(broker);
		}
		await Promise.all(brokers.map((broker) => broker.start()));
		await until(() => hosts.every((host) => hostBoard(caller).status(host)?.healthy), "the hosts report");
	});
	afterAll(async () => {
		await Promise.all(brokers.map((broker) => broker.stop()));
		await Promise.all(ollamas.map((ollama) => ollama.stop()));
	});

	it("retries a request on a host it has not failed on yet, while a failing host still reports healthy", async () => {
		const ask = (i: number) =>
			caller.call<AiChatAnswer, object>("ai.chat", { messages: [{ role: "user", content: `question ${i}` }] }, { meta: { user: SOMEONE } });
		// Enough answers from every host that their circuit breakers stay closed through what follows.
		for (let i = 0; i < 60; i += 6) await Promise.all([0, 1, 2, 3, 4, 5].map((j) => ask(1_000 + i + j)));
		// Two hosts answer every chat with Ollama's 503 but their health checks pass: only failures tell.
		ollamas[0].failNext(1_000, "http-503", { path: "/api/chat" });
		ollamas[1].failNext(1_000, "http-503", { path: "/api/chat" });

		const answers = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => ask(i)));

		expect(answers.filter((answer) => answer.status === "rejected")).toEqual([]);
		expect(answers.map((answer) => (answer as PromiseFulfilledResult<AiChatAnswer>).value.host)).toEqual(answers.map(() => "gpu-3"));
	});
});

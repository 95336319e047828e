import { resolve } from "node:path";
import { OllamaTestServer } from "./ollama-server";
import { knowledgeService } from "./knowledge";
import { startPlatform, type Platform } from "./platform";
import { tasksService } from "./tasks";

export const WEB_ROOT = resolve(__dirname, "../../web/dist");

export interface WebApp extends Platform {
	ollama: OllamaTestServer;
	url: string;
	stop(): Promise<void>;
}

/**
 * The whole platform in this process, as `npm start` runs it, serving the built web app: chat, tasks,
 * notifications, knowledge and an ai node bound to the Ollama test server (answers stream a word every 40 ms).
 */
export async function startWebApp(): Promise<WebApp> {
	const ollama = await OllamaTestServer.start({ latencyMs: 20, tokenIntervalMs: 40 });
	const platform = await startPlatform({
		chat: {},
		notifications: {},
		ai: { ollamaHost: ollama.url },
		services: [tasksService({ triage: { aiPollMs: 200 } }), knowledgeService()],
		api: { webRoot: WEB_ROOT, rateLimitPerMinute: 100_000, socketRateLimitPerMinute: 100_000 },
	});
	return {
		...platform,
		ollama,
		url: platform.client.baseUrl,
		async stop() {
			await platform.broker.stop();
			await ollama.stop();
		},
	};
}

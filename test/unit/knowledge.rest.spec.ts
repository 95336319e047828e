import type { ServiceBroker } from "moleculer";
import type { ChannelView, MessageView } from "../../types/chat";
import type { AskAnswer, DocumentView, KnowledgeHit } from "../../types/knowledge";
import type { SessionUser } from "../../types/users";
import { aiDouble } from "../support/ai-double";
import { eventually, knowledgeService } from "../support/knowledge";
import { OllamaTestServer } from "../support/ollama-server";
import { apiService, chatService, gatewayUrl, RestClient, testBroker, usersService } from "../support/platform";

const PRIVATE_TEXT = "Salary bands for 2026: engineers earn between 70 and 95 thousand.";

describe("knowledge over REST", () => {
	let ollama: OllamaTestServer;
	let broker: ServiceBroker;
	let rest: RestClient;
	const tokens: Record<string, string> = {};
	let hr: ChannelView;

	beforeAll(async () => {
		ollama = await OllamaTestServer.start();
		broker = testBroker();
		broker.createService(usersService());
		broker.createService(chatService());
		broker.createService(knowledgeService());
		broker.createService(aiDouble(ollama.url));
		broker.createService(apiService());
		await broker.start();
		rest = new RestClient(gatewayUrl(broker));
		for (const name of ["admin", "amy", "bob"]) {
			await rest.register(name);
			tokens[name] = (await rest.login(name)).accessToken;
		}
		hr = (await rest.post<{ channel: ChannelView }>("/api/v1/channels", { name: "hr", type: "private" }, tokens.amy)).body.channel;
	});
	afterAll(async () => {
		await broker.stop();
		await ollama.stop();
	});

	it("answers an upload with 201 and the document's Location, which can be read back", async () => {
		const created = await rest.post<{ document: DocumentView }>(
			"/api/v1/knowledge/documents",
			{ title: "Expense rules", text: "Expenses above 500 euros need a manager's approval before purchase." },
			tokens.amy,
		);
		expect(created.status).toBe(201);
		expect(created.body.document).toMatchObject({ title: "Expense rules", chunks: 1, channelId: null });
		const location = created.headers.get("location")!;
		expect(location).toBe(`/api/v1/knowledge/documents/${created.body.document.id}`);
		expect((await rest.get<{ document: DocumentView }>(location, tokens.bob)).body.document).toEqual(created.body.document);
	});

	it("searches with q and k from the query string, and validates them", async () => {
		const found = await rest.get<{ items: KnowledgeHit[] }>(`/api/v1/knowledge/search?q=${encodeURIComponent("expenses manager approval")}&k=1`, tokens.bob);
		expect(found.status).toBe(200);
		expect(found.body.items).toHaveLength(1);
		expect(found.body.items[0]).toMatchObject({ title: "Expense rules", documentId: expect.any(Number), score: expect.any(Number) });
		expect((await rest.get("/api/v1/knowledge/search?q=x&k=0", tokens.bob)).status).toBe(422);
		expect((await rest.get("/api/v1/knowledge/search", tokens.bob)).status).toBe(422);
		expect((await rest.get("/api/v1/knowledge/search?q=x")).status).toBe(401);
	});

	it("keeps a private channel's documents and messages out of outsiders' searches and answers", async () => {
		const upload = await rest.post<{ document: DocumentView }>(
			"/api/v1/knowledge/documents",
			{ title: "Salary bands", text: PRIVATE_TEXT, channelId: hr.id },
			tokens.amy,
		);
		expect(upload.status).toBe(201);
		const sent = await rest.post<{ message: MessageView }>(`/api/v1/channels/${hr.id}/messages`, { text: "Salary review meetings start in May" }, tokens.amy);
		// Chat messages are indexed on their event, a moment later: wait for it past the search cache.
		const amy = await broker.call<SessionUser, { token: string }>("users.resolveToken", { token: tokens.amy });
		await eventually(async () => {
			const { items } = await broker.call<{ items: KnowledgeHit[] }, object>("knowledge.search", { q: "salary review meetings start", k: 3 }, { meta: { user: amy, $cache: false } });
			expect(items.map((item) => (item.documentId === null ? item.messageId : null))).toContain(sent.body.message.id);
		});
		await rest.post("/api/v1/knowledge/documents", { title: "Salary payment", text: "Salary is paid on the last working day of each month." }, tokens.bob);

		const outsider = await rest.get<{ items: KnowledgeHit[] }>(`/api/v1/knowledge/search?q=${encodeURIComponent("salary bands engineers")}&k=50`, tokens.bob);
		expect(outsider.body.items.length).toBeGreaterThan(0);
		expect(outsider.body.items.filter((item) => item.channelId === hr.id)).toEqual([]);
		expect((await rest.get(`/api/v1/knowledge/documents/${upload.body.document.id}`, tokens.bob)).status).toBe(404);

		const before = ollama.requestCount({ path: "/api/chat" });
		const asked = await rest.post<AskAnswer>("/api/v1/ai/ask", { question: "When is the salary paid and what are the salary bands?" }, tokens.bob);
		expect(asked.status).toBe(200);
		expect(asked.body.citations.map((citation) => citation.title)).toContain("Salary payment");
		expect(asked.body.citations.filter((citation) => citation.channelId === hr.id)).toEqual([]);
		const prompts = ollama.requests({ path: "/api/chat" }).slice(before).map((request) => JSON.stringify(request.body));
		expect(prompts).toHaveLength(1);
		expect(prompts[0]).toContain("last working day");
		expect(prompts[0]).not.toContain("70 and 95 thousand");
		expect(prompts[0]).not.toContain("review meetings");

		const member = await rest.post<AskAnswer>("/api/v1/ai/ask", { question: "What are the salary bands for engineers?" }, tokens.amy);
		expect(member.body.citations.map((citation) => citation.channelId)).toContain(hr.id);
	});

	it("lets only the author or an admin delete a document", async () => {
		const { body } = await rest.post<{ document: DocumentView }>("/api/v1/knowledge/documents", { title: "Old memo", text: "This memo is out of date." }, tokens.amy);
		const path = `/api/v1/knowledge/documents/${body.document.id}`;
		expect((await rest.request("DELETE", path, { token: tokens.bob })).status).toBe(403);
		expect((await rest.request("DELETE", path, { token: tokens.admin })).status).toBe(200);
		expect((await rest.request("DELETE", path, { token: tokens.amy })).status).toBe(404);
	});

	it("answers 503 while no ai node is up", async () => {
		await broker.destroyService(broker.getLocalService("ai")!);
		const asked = await rest.post("/api/v1/ai/ask", { question: "What are the expense rules?" }, tokens.bob);
		expect(asked.status).toBe(503);
		const searched = await rest.get(`/api/v1/knowledge/search?q=${encodeURIComponent("anything new")}`, tokens.bob);
		expect(searched.status).toBe(503);
	});
});

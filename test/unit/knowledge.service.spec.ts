import type { ServiceBroker } from "moleculer";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NOTHING_FOUND } from "../../services/knowledge/prompt";
import type { ChannelView, MessageView } from "../../types/chat";
import type { AskAnswer, DocumentView, KnowledgeHit } from "../../types/knowledge";
import type { SessionUser } from "../../types/users";
import { aiDouble } from "../support/ai-double";
import { eventually, knowledgeService } from "../support/knowledge";
import { OllamaTestServer } from "../support/ollama-server";
import { chatService, testBroker, usersService } from "../support/platform";
import { refused } from "../support/waiting";

interface Problem {
	code: number;
	type: string;
}

const VACATION = [
	"# Vacation",
	"",
	"Every employee gets 25 vacation days per year. Unused vacation days carry over until March.",
	"",
	"# Sick leave",
	"",
	"Sick leave needs a note from a doctor after three days away.",
].join("\n");
const DEPLOYMENT = "# Deploying\n\nRun the release pipeline, then watch the dashboards for errors.\n\n## Rollback\n\nTo roll back, deploy the previous release tag again.";
const SECRET_MINUTES = "The Initech merger closes in March at 40 million. Keep the Initech merger confidential.";
const SECRET_MESSAGE = "Initech merger price agreed: 40 million, signing in March";

/** The bodies of the chat requests the Ollama test server received since `since`, as text. */
function promptsSince(ollama: OllamaTestServer, since: number): string[] {
	return ollama.requests({ path: "/api/chat" }).slice(since).map((request) => JSON.stringify(request.body));
}

describe("knowledge service", () => {
	let ollama: OllamaTestServer;
	let broker: ServiceBroker;
	const people: Record<string, SessionUser> = {};

	async function signIn(username: string): Promise<SessionUser> {
		await broker.call("users.register", { username, email: `${username}@example.com`, password: "correct horse battery" });
		const { accessToken } = await broker.call<{ accessToken: string }, object>("users.login", { username, password: "correct horse battery" });
		return broker.call<SessionUser, { token: string }>("users.resolveToken", { token: accessToken });
	}

	function as<T>(user: SessionUser, action: string, params: object = {}): Promise<T> {
		return broker.call<T, object>(action, params, { meta: { user } });
	}

	async function addDocument(user: SessionUser, title: string, text: string, channelId?: number): Promise<DocumentView> {
		return (await as<{ document: DocumentView }>(user, "knowledge.addDocument", { title, text, channelId })).document;
	}

	async function search(user: SessionUser, q: string, k = 10): Promise<KnowledgeHit[]> {
		return (await as<{ items: KnowledgeHit[] }>(user, "knowledge.search", { q, k })).items;
	}

	/** A search past the 30-minute cache: what chat messages indexed since the last search changed. */
	async function freshSearch(user: SessionUser, q: string, k = 10): Promise<KnowledgeHit[]> {
		return (await broker.call<{ items: KnowledgeHit[] }, object>("knowledge.search", { q, k }, { meta: { user, $cache: false } })).items;
	}

	async function channel(owner: SessionUser, name: string, type: "public" | "private" = "public"): Promise<ChannelView> {
		return (await as<{ channel: ChannelView }>(owner, "chat.createChannel", { name, type })).channel;
	}

	async function send(user: SessionUser, channelId: number, text: string): Promise<MessageView> {
		return (await as<{ message: MessageView }>(user, "chat.send", { channelId, text })).message;
	}

	let vacation: DocumentView;
	let deployment: DocumentView;
	let board: ChannelView;
	let minutes: DocumentView;

	beforeAll(async () => {
		ollama = await OllamaTestServer.start();
		broker = testBroker();
		broker.createService(usersService());
		broker.createService(chatService());
		// Messages that arrive together are gathered for 200 ms: long enough on a loaded CI machine for concurrent sends.
		broker.createService(knowledgeService({ chatBatchDelayMs: 200 }));
		broker.createService(aiDouble(ollama.url));
		await broker.start();
		for (const name of ["admin", "amy", "bob"]) people[name] = await signIn(name);

		vacation = await addDocument(people.amy, "Vacation policy", VACATION);
		deployment = await addDocument(people.bob, "Deployment guide", DEPLOYMENT);
		await addDocument(people.amy, "Company news", "Nobody knows yet when the Initech merger will close; more news follows.");
		board = await channel(people.amy, "board", "private");
		minutes = await addDocument(people.amy, "Board minutes", SECRET_MINUTES, board.id);
	});
	afterAll(async () => {
		await broker.stop();
		await ollama.stop();
	});

	describe("documents", () => {
		it("splits a document into chunks and describes it without its text", () => {
			expect(vacation).toMatchObject({ title: "Vacation policy", chunks: 2, createdBy: people.amy.id, channelId: null });
			expect(vacation).not.toHaveProperty("text");
			expect(minutes.channelId).toBe(board.id);
		});

		it("finds the chunks nearest to a question, best first, with their document and section", async () => {
			const items = await search(people.bob, "how many vacation days per year", 3);
			expect(items).toHaveLength(3);
			expect(items[0]).toMatchObject({ documentId: vacation.id, title: "Vacation policy", section: "Vacation", position: 0 });
			expect(items[0].chunk).toContain("25 vacation days");
			expect(items[0].score).toBeGreaterThan(0.3);
			const scores = items.map((item) => item.score);
			expect([...scores].sort((a, b) => b - a)).toEqual(scores);

			const rollback = await search(people.amy, "how to roll back a release", 1);
			expect(rollback[0]).toMatchObject({ documentId: deployment.id, section: "Deploying › Rollback" });
		});

		it("refuses a document with nothing to index, and one for a channel the uploader cannot read", async () => {
			expect(await refused<Problem>(addDocument(people.amy, "Empty", "# Just a heading"))).toMatchObject({ code: 400, type: "EMPTY_DOCUMENT" });
			expect(await refused<Problem>(addDocument(people.bob, "Sneaky", "Put this into the board channel", board.id))).toMatchObject({ code: 403 });
			expect(await refused<Problem>(as(people.amy, "knowledge.addDocument", { title: "x", text: "y", extra: 1 }))).toMatchObject({ code: 422 });
		});

		it("lets the author or an AI admin remove a document, which is then never found again", async () => {
			const memo = await addDocument(people.amy, "Parking memo", "Parking spaces in the garage are assigned by the facilities desk.");
			expect((await search(people.bob, "who assigns garage parking spaces", 1))[0]).toMatchObject({ documentId: memo.id });
			expect(await refused<Problem>(as(people.bob, "knowledge.removeDocument", { id: memo.id }))).toMatchObject({ code: 403, type: "NOT_AUTHOR" });
			expect(await as(people.admin, "knowledge.removeDocument", { id: memo.id })).toMatchObject({ document: { id: memo.id } });
			expect((await search(people.bob, "who assigns garage parking spaces")).map((item) => item.documentId)).not.toContain(memo.id);
			expect(await refused<Problem>(as(people.amy, "knowledge.removeDocument", { id: memo.id }))).toMatchObject({ code: 404, type: "DOCUMENT_NOT_FOUND" });
		});
	});

	describe("who reads what", () => {
		let secretMessage: MessageView;

		beforeAll(async () => {
			secretMessage = await send(people.amy, board.id, SECRET_MESSAGE);
			await eventually(async () => {
				const items = await freshSearch(people.amy, SECRET_MESSAGE, 3);
				expect(items.map((item) => (item.documentId === null ? item.messageId : null))).toContain(secretMessage.id);
			});
		});

		it("shows a private channel's documents and messages to its members", async () => {
			const items = await search(people.amy, "Initech merger price", 5);
			expect(items.map((item) => item.documentId)).toContain(minutes.id);
			expect(items).toContainEqual(expect.objectContaining({ documentId: null, channelId: board.id, messageId: secretMessage.id, title: "#board message" }));
		});

		it("never shows them to anyone else: not in search, lists, lookups or answers", async () => {
			const items = await search(people.bob, "Initech merger price", 50);
			expect(items.length).toBeGreaterThan(0);
			for (const item of items) {
				expect(item.channelId).not.toBe(board.id);
				expect(item.chunk).not.toMatch(/40 million|confidential/);
			}
			const listed = await as<{ items: DocumentView[] }>(people.bob, "knowledge.listDocuments");
			expect(listed.items.map((document) => document.id)).not.toContain(minutes.id);
			expect(listed.items.map((document) => document.id)).toContain(vacation.id);
			expect(await refused<Problem>(as(people.bob, "knowledge.getDocument", { id: minutes.id }))).toMatchObject({ code: 404 });
			expect(await refused<Problem>(as(people.bob, "knowledge.removeDocument", { id: minutes.id }))).toMatchObject({ code: 404 });

			const before = ollama.requestCount({ path: "/api/chat" });
			const answer = await as<AskAnswer>(people.bob, "knowledge.ask", { question: "When does the Initech merger close?" });
			expect(answer.citations.length).toBeGreaterThan(0);
			for (const citation of answer.citations) expect(citation.channelId).not.toBe(board.id);
			const prompts = promptsSince(ollama, before);
			expect(prompts).toHaveLength(1);
			expect(prompts[0]).toContain("Nobody knows yet");
			expect(prompts[0]).not.toMatch(/40 million|confidential|closes in March/);
		});

		it("answers the channel's members from the channel's knowledge", async () => {
			const before = ollama.requestCount({ path: "/api/chat" });
			const answer = await as<AskAnswer>(people.amy, "knowledge.ask", { question: "When does the Initech merger close?" });
			expect(answer.citations.map((citation) => citation.documentId)).toContain(minutes.id);
			expect(promptsSince(ollama, before)[0]).toContain("closes in March");
		});
	});

	describe("ask", () => {
		it("answers from the best chunks and cites them as numbered in the prompt", async () => {
			const before = ollama.requestCount({ path: "/api/chat" });
			const answer = await as<AskAnswer>(people.bob, "knowledge.ask", { question: "How many vacation days does an employee get per year?", k: 2 });
			expect(answer.answer).toEqual(expect.any(String));
			expect(answer.citations[0]).toMatchObject({ ref: 1, documentId: vacation.id, title: "Vacation policy" });
			expect(answer.citations.length).toBeLessThanOrEqual(2);

			const [request] = ollama.requests({ path: "/api/chat" }).slice(before);
			const body = request.body as { messages: { role: string; content: string }[]; options: { temperature: number }; stream: boolean };
			expect(body).toMatchObject({ stream: false, options: { temperature: 0 } });
			expect(body.messages.at(-1)).toEqual({ role: "user", content: "How many vacation days does an employee get per year?" });
			const system = body.messages[0].content;
			for (const citation of answer.citations) expect(system).toContain(`[${citation.ref}] ${citation.title}`);
			expect(system).toContain("25 vacation days");
		});

		it("says honestly that nothing was found, without asking the model", async () => {
			const before = ollama.requestCount({ path: "/api/chat" });
			const answer = await as<AskAnswer>(people.bob, "knowledge.ask", { question: "Which telescope photographed distant galaxies?" });
			expect(answer).toEqual({ answer: NOTHING_FOUND, citations: [] });
			expect(ollama.requestCount({ path: "/api/chat" })).toBe(before);
		});
	});

	describe("search cache", () => {
		it("answers a repeated search from the cache, per set of readable channels", async () => {
			const embeds = () => ollama.requestCount({ path: "/api/embed" });
			const before = embeds();
			const first = await search(people.bob, "release pipeline dashboards", 2);
			expect(embeds()).toBe(before + 1);
			expect(await search(people.bob, "release pipeline dashboards", 2)).toEqual(first);
			expect(embeds()).toBe(before + 1);
			// Amy reads the board channel too: her results are her own.
			await search(people.amy, "release pipeline dashboards", 2);
			expect(embeds()).toBe(before + 2);
		});

		it("is emptied when a document is added, so the document is found at once", async () => {
			const question = "which printer prints in color";
			expect((await search(people.bob, question, 3)).map((item) => item.title)).not.toContain("Printers");
			const printers = await addDocument(people.bob, "Printers", "The printer on floor two prints in color; the others print black only.");
			expect((await search(people.bob, question, 3))[0]).toMatchObject({ documentId: printers.id });
		});
	});

	describe("chat messages", () => {
		let kitchen: ChannelView;

		beforeAll(async () => {
			kitchen = await channel(people.amy, "kitchen");
		});

		async function messageHits(user: SessionUser, q: string, messageId: number) {
			return (await freshSearch(user, q, 20)).filter((item) => item.documentId === null && item.messageId === messageId);
		}

		it("indexes a message when it is posted, again when it is edited, and forgets it when it is deleted", async () => {
			const message = await send(people.amy, kitchen.id, "The coffee machine on floor three is broken again");
			const [hit] = await eventually(async () => {
				const hits = await messageHits(people.bob, "coffee machine broken", message.id);
				expect(hits).toHaveLength(1);
				return hits;
			});
			expect(hit).toMatchObject({ documentId: null, channelId: kitchen.id, title: "#kitchen message", chunk: "The coffee machine on floor three is broken again" });

			await as(people.amy, "chat.edit", { id: message.id, text: "The espresso grinder works fine now" });
			await eventually(async () => expect((await messageHits(people.bob, "espresso grinder works", message.id))[0]?.chunk).toBe("The espresso grinder works fine now"));

			await as(people.amy, "chat.delete", { id: message.id });
			await eventually(async () => expect(await messageHits(people.bob, "espresso grinder works fine now", message.id)).toHaveLength(0));
		});

		it("does not embed a message again when only its reactions changed", async () => {
			const message = await send(people.amy, kitchen.id, "Dishwasher tablets are under the sink");
			await eventually(async () => expect(await messageHits(people.bob, "Dishwasher tablets under the sink", message.id)).toHaveLength(1));
			const before = ollama.requestCount({ path: "/api/embed" });
			await as(people.amy, "chat.react", { id: message.id, emoji: ":+1:" });
			const next = await send(people.amy, kitchen.id, "Clean mugs go on the top shelf");
			// Messages are indexed in order: once the later one is in, the reaction's update was handled.
			await eventually(async () => expect(await messageHits(people.bob, "Clean mugs go on the top shelf", next.id)).toHaveLength(1));
			const embedded = ollama.requests({ path: "/api/embed" }).slice(before).flatMap((request) => (request.body as { input: string[] }).input);
			expect(embedded).not.toContain("Dishwasher tablets are under the sink");
		});

		it("embeds messages that arrive together in one call, and leaves direct messages out", async () => {
			const dm = (await as<{ channel: ChannelView }>(people.amy, "chat.openDirect", { userId: people.bob.id })).channel;
			const before = ollama.requestCount({ path: "/api/embed" });
			const sent = await Promise.all([
				send(people.amy, dm.id, "Lunch plan between us: tacos on Friday"),
				send(people.amy, kitchen.id, "Fresh tacos arrive on Friday"),
				send(people.amy, kitchen.id, "Taco sauce is in the fridge"),
			]);
			await eventually(async () => expect(await messageHits(people.amy, "Taco sauce is in the fridge", sent[2].id)).toHaveLength(1));
			expect(await messageHits(people.amy, "Fresh tacos arrive on Friday", sent[1].id)).toHaveLength(1);
			const hits = await freshSearch(people.amy, "Lunch plan between us: tacos on Friday", 20);
			expect(hits.filter((hit) => hit.channelId === dm.id)).toHaveLength(0);
			// Three searches above embed their queries; the two kitchen messages were embedded together.
			const bodies = ollama.requests({ path: "/api/embed" }).slice(before).map((request) => (request.body as { input: string[] }).input);
			expect(bodies).toContainEqual(["Fresh tacos arrive on Friday", "Taco sauce is in the fridge"]);
		});
	});

	describe("without an ai node", () => {
		it("answers 503 AI_UNAVAILABLE to uploads, searches and questions", async () => {
			await broker.destroyService(broker.getLocalService("ai")!);
			expect(await refused<Problem>(search(people.bob, "anything at all new"))).toMatchObject({ code: 503, type: "AI_UNAVAILABLE" });
			expect(await refused<Problem>(as(people.bob, "knowledge.ask", { question: "How many vacation days?" }))).toMatchObject({ code: 503, type: "AI_UNAVAILABLE" });
			expect(await refused<Problem>(addDocument(people.bob, "Later", "Written while the AI is away"))).toMatchObject({ code: 503, type: "AI_UNAVAILABLE" });
		});
	});
});

/** A signed-in member as the gateway would pass one, for brokers that run no users service. */
const reader: SessionUser = {
	id: 1,
	username: "reader",
	displayName: "reader",
	roles: ["member"],
	permissions: ["knowledge:read", "knowledge:write", "ai:use", "chat:read", "chat:write", "chat:channel:create"],
	tokenId: "t",
	tokenExpiresAt: Math.floor(Date.now() / 1000) + 3_600,
	sessionId: "s",
};

describe("knowledge service with chat indexing switched off", () => {
	it("embeds no message, posted or edited", async () => {
		const ollama = await OllamaTestServer.start();
		const broker = testBroker();
		broker.createService(chatService());
		broker.createService(knowledgeService({ indexChat: false }));
		broker.createService(aiDouble(ollama.url));
		await broker.start();
		try {
			const { channel } = await broker.call<{ channel: ChannelView }, object>("chat.createChannel", { name: "quiet", type: "public" }, { meta: { user: reader } });
			const { message } = await broker.call<{ message: MessageView }, object>("chat.send", { channelId: channel.id, text: "Nobody should index this sentence" }, { meta: { user: reader } });
			await broker.call("chat.edit", { id: message.id, text: "Nor this one" }, { meta: { user: reader } });
			await new Promise((resolve) => setTimeout(resolve, 50));
			expect(ollama.requestCount({ path: "/api/embed" })).toBe(0);
		} finally {
			await broker.stop();
			await ollama.stop();
		}
	});
});

describe("knowledge service across a restart", () => {
	let ollama: OllamaTestServer;
	let dir: string;

	async function startNode(): Promise<ServiceBroker> {
		const broker = testBroker();
		broker.createService(chatService());
		broker.createService(knowledgeService({ databaseUri: `sqlite:${join(dir, "knowledge.sqlite")}` }));
		broker.createService(aiDouble(ollama.url));
		await broker.start();
		return broker;
	}

	beforeAll(async () => {
		ollama = await OllamaTestServer.start();
		dir = mkdtempSync(join(tmpdir(), "colony-knowledge-"));
	});
	afterAll(async () => {
		await ollama.stop();
		rmSync(dir, { recursive: true, force: true });
	});

	it("rebuilds its index from the database, without embedding the documents again, and keeps their text sealed", async () => {
		const first = await startNode();
		await first.call("knowledge.addDocument", { title: "Onboarding checklist", text: "New hires collect their badge from reception on day one." }, { meta: { user: reader } });
		await first.stop();

		const embedsBefore = ollama.requestCount({ path: "/api/embed" });
		const second = await startNode();
		try {
			const { items } = await second.call<{ items: KnowledgeHit[] }, object>("knowledge.search", { q: "where do new hires collect the badge" }, { meta: { user: reader } });
			expect(items[0]).toMatchObject({ title: "Onboarding checklist", chunk: "New hires collect their badge from reception on day one." });
			expect(ollama.requestCount({ path: "/api/embed" })).toBe(embedsBefore + 1);
		} finally {
			await second.stop();
		}

		for (const file of ["knowledge.sqlite", "knowledge.sqlite-wal"].map((name) => join(dir, name)).filter(existsSync)) {
			const bytes = readFileSync(file).toString("latin1");
			expect(bytes).not.toContain("reception");
			expect(bytes).not.toContain("Onboarding");
		}
	});
});

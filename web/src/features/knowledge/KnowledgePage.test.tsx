import { ColonyApiError } from "@colony/client";
import type { AskAnswer, KnowledgeHit } from "@colony/types/knowledge";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { renderWithProviders } from "../../test/render";
import { seriousViolations } from "../notifications/a11y.test-helper";
import KnowledgePage from "./KnowledgePage";

type Handler = (body: unknown, query: unknown) => unknown;

const fake = vi.hoisted(() => ({
	routes: new Map<string, Handler>(),
	request: vi.fn(),
}));

vi.mock("../../lib/session", () => ({
	api: { request: fake.request },
	useMe: () => ({ id: 1, username: "ada", displayName: "Ada", roles: ["member"], createdAt: "2026-01-01T00:00:00.000Z" }),
}));

const deployHit: KnowledgeHit = {
	documentId: 7,
	title: "Runbook",
	section: "Deploys › Rollback",
	position: 2,
	chunkId: 70,
	chunk: "To roll back, run `colony deploy --previous` from the ops host.",
	score: 0.8123,
	channelId: null,
};

const channelHit: KnowledgeHit = {
	documentId: null,
	channelId: 3,
	messageId: 41,
	title: "#ops message",
	chunkId: 71,
	chunk: "Rollbacks need the on-call's approval.",
	score: 0.61,
};

const answer: AskAnswer = {
	answer: "Run `colony deploy --previous` [1], with the on-call's approval [2].",
	citations: [
		{ ref: 1, ...deployHit },
		{ ref: 2, ...channelHit },
	],
};

// jsdom has no `document.fonts`, which Mantine's autosizing Textarea listens to.
if (!("fonts" in document)) {
	Object.defineProperty(document, "fonts", { configurable: true, value: { addEventListener() {}, removeEventListener() {} } });
}

describe("the knowledge screen", () => {
	beforeEach(() => {
		vi.clearAllMocks();
		fake.routes.clear();
		fake.routes.set("GET /knowledge/documents", () => ({ items: [], nextCursor: null }));
		fake.request.mockImplementation(async (method: string, path: string, options: { body?: unknown; query?: unknown } = {}) => {
			const handler = fake.routes.get(`${method} ${path}`);
			if (!handler) throw new Error(`No fake for ${method} ${path}`);
			return handler(options.body, options.query);
		});
	});

	it("shows an answer with its numbered citations", async () => {
		const user = userEvent.setup();
		const asked = vi.fn(() => answer);
		fake.routes.set("POST /ai/ask", asked);
		renderWithProviders(<KnowledgePage />, "/knowledge");
		expect(screen.getByRole("heading", { level: 1, name: "Knowledge" })).toBeTruthy();
		await user.type(screen.getByRole("textbox", { name: "Question" }), "How do I roll back a deploy?");
		await user.click(screen.getByRole("button", { name: "Ask" }));
		expect(asked).toHaveBeenCalledWith({ question: "How do I roll back a deploy?" }, undefined);

		const section = await screen.findByRole("region", { name: "Answer" });
		expect(section.textContent).toContain("Run `colony deploy --previous` [1], with the on-call's approval [2].");
		expect(within(section).getByRole("link", { name: "[1]" }).getAttribute("href")).toBe("#citation-1");
		const sources = within(section).getByRole("list", { name: "Sources" });
		const items = within(sources).getAllByRole("listitem");
		expect(items).toHaveLength(2);
		expect(items[0].getAttribute("value")).toBe("1");
		expect(items[0].textContent).toContain("Runbook");
		expect(items[0].textContent).toContain("Deploys › Rollback");
		expect(items[0].textContent).toContain("To roll back, run `colony deploy --previous` from the ops host.");
		expect(items[0].textContent).toContain("Score 0.81");
		expect(within(items[1]).getByRole("link", { name: "#ops message" }).getAttribute("href")).toBe("/channels/3?message=41");
	});

	it("says clearly when no AI host is up", async () => {
		const user = userEvent.setup();
		fake.routes.set("POST /ai/ask", () => {
			throw new ColonyApiError(503, "AI_UNAVAILABLE", "The AI assistant is unavailable right now; try again in a little while", { retryAfter: 30 });
		});
		renderWithProviders(<KnowledgePage />, "/knowledge");
		await user.type(screen.getByRole("textbox", { name: "Question" }), "Anything?");
		await user.click(screen.getByRole("button", { name: "Ask" }));
		const alert = await screen.findByRole("alert");
		expect(alert.textContent).toContain("No AI host is available");
		expect(alert.textContent).toContain("The AI assistant is unavailable right now; try again in a little while Try again in 30 seconds.");
	});

	it("searches and shows each result with its score", async () => {
		const user = userEvent.setup();
		fake.routes.set("GET /knowledge/search", () => ({ items: [deployHit, channelHit] }));
		renderWithProviders(<KnowledgePage />, "/knowledge");
		await user.type(screen.getByRole("searchbox", { name: "Search the knowledge base" }), "rollback");
		await user.click(screen.getByRole("button", { name: "Search" }));
		const results = await screen.findByRole("list", { name: "Search results" });
		expect(fake.request).toHaveBeenCalledWith("GET", "/knowledge/search", expect.objectContaining({ query: { q: "rollback", k: 10 } }));
		const items = within(results).getAllByRole("listitem");
		expect(items.map((item) => item.textContent)).toEqual([expect.stringContaining("Score 0.81"), expect.stringContaining("Score 0.61")]);
	});

	it("adds a document read from a file", async () => {
		const user = userEvent.setup();
		const added = vi.fn((body: unknown) => ({
			document: { id: 9, title: (body as { title: string }).title, chunks: 3, createdAt: new Date().toISOString(), createdBy: 1, channelId: null },
		}));
		fake.routes.set("POST /knowledge/documents", added);
		const { container } = renderWithProviders(<KnowledgePage />, "/knowledge");
		const file = new File(["# Onboarding\n\nWelcome to the team."], "onboarding.md", { type: "text/markdown" });
		await user.upload(container.querySelector<HTMLInputElement>('input[type="file"]')!, file);
		await waitFor(() => expect((screen.getByRole("textbox", { name: "Text" }) as HTMLTextAreaElement).value).toBe("# Onboarding\n\nWelcome to the team."));
		expect((screen.getByRole("textbox", { name: "Title" }) as HTMLInputElement).value).toBe("onboarding");
		await user.click(screen.getByRole("button", { name: "Add document" }));
		expect(await screen.findByText("“onboarding” was added, in 3 parts.")).toBeTruthy();
		expect(added).toHaveBeenCalledWith({ title: "onboarding", text: "# Onboarding\n\nWelcome to the team." }, undefined);
	});

	it("has no serious accessibility violations", async () => {
		const user = userEvent.setup();
		fake.routes.set("POST /ai/ask", () => answer);
		const { container } = renderWithProviders(<KnowledgePage />, "/knowledge");
		await user.type(screen.getByRole("textbox", { name: "Question" }), "Rollback?");
		await user.click(screen.getByRole("button", { name: "Ask" }));
		await screen.findByRole("region", { name: "Answer" });
		expect(await seriousViolations(container)).toEqual([]);
	});
});

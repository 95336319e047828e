import type { Browser, Page } from "playwright-core";
import { accessibilityViolations, describeBrowser, launchBrowser, personContext, screenshot } from "../support/browser";
import { until } from "../support/waiting";
import { startWebApp, type WebApp } from "../support/web-app";

const PASSWORD = "correct horse battery staple";

async function signUp(page: Page, username: string): Promise<void> {
	await page.goto("/signup");
	await page.getByLabel(/^Username/).fill(username);
	await page.getByLabel(/^Email/).fill(`${username}@example.com`);
	await page.getByLabel(/^Password/).fill(PASSWORD);
	await page.getByRole("button", { name: "Create account" }).click();
	await page.waitForURL(/\/channels/);
}

/** Drags a card by its handle onto a column, with the small steps a pointer makes (dnd-kit reacts to movement). */
async function drag(page: Page, title: string, column: string): Promise<void> {
	const handle = page.getByRole("button", { name: `Drag “${title}”` });
	const target = page.getByRole("region", { name: column });
	const from = (await handle.boundingBox())!;
	const to = (await target.boundingBox())!;
	await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
	await page.mouse.down();
	await page.mouse.move(from.x + from.width / 2 + 10, from.y + from.height / 2 + 10, { steps: 5 });
	await page.mouse.move(to.x + to.width / 2, to.y + 80, { steps: 20 });
	await page.mouse.up();
}

describeBrowser("the web app in Chromium, served by the gateway", () => {
	let app: WebApp;
	let browser: Browser;

	beforeAll(async () => {
		app = await startWebApp();
		browser = await launchBrowser();
	}, 60_000);
	afterAll(async () => {
		await browser?.close();
		await app?.stop();
	});

	jest.setTimeout(120_000);

	it("signs up, signs out and signs in again, each screen accessible, under the strict CSP", async () => {
		const { context, page, problems } = await personContext(browser, app.url);
		try {
			await page.goto("/");
			await page.waitForURL(/\/signin/);
			await page.getByRole("heading", { name: "Sign in to Colony" }).waitFor();
			expect(await accessibilityViolations(page)).toEqual([]);
			await screenshot(page, "sign-in");

			await page.getByRole("link", { name: "Create an account" }).click();
			await page.getByRole("heading", { name: "Create your Colony account" }).waitFor();
			expect(await accessibilityViolations(page)).toEqual([]);
			await screenshot(page, "sign-up");

			await signUp(page, "ada");
			await page.getByRole("button", { name: /Account of ada/ }).waitFor();
			expect(await accessibilityViolations(page)).toEqual([]);

			await page.getByRole("button", { name: /Account of ada/ }).click();
			await page.getByRole("menuitem", { name: "Sign out" }).click();
			await page.waitForURL(/\/signin/);

			await page.getByLabel(/^Username or email/).fill("ada");
			await page.getByLabel(/^Password/).fill("not the password");
			await page.getByRole("button", { name: "Sign in" }).click();
			await page.getByRole("alert").waitFor();
			await page.getByLabel(/^Password/).fill(PASSWORD);
			await page.getByRole("button", { name: "Sign in" }).click();
			await page.waitForURL(/\/channels/);

			// A reload keeps the session: the refresh token restores it, the access token was only in memory.
			await page.reload();
			await page.getByRole("button", { name: /Account of ada/ }).waitFor();
			const stored = await page.evaluate("JSON.stringify(Object.assign({}, localStorage))");
			expect(String(stored)).not.toMatch(/accessToken|eyJ/);
			expect(problems).toEqual([]);
		} finally {
			await context.close();
		}
	});
});

describeBrowser("two people working together in two browsers", () => {
	let app: WebApp;
	let browser: Browser;
	let ada: Person;
	let bob: Person;
	let channelId: number;

	interface Person {
		page: Page;
		problems: string[];
		close(): Promise<void>;
	}

	async function person(username: string): Promise<Person> {
		const { context, page, problems } = await personContext(browser, app.url);
		await signUp(page, username);
		return { page, problems, close: () => context.close() };
	}

	jest.setTimeout(120_000);

	beforeAll(async () => {
		app = await startWebApp();
		browser = await launchBrowser();
		ada = await person("ada");
		bob = await person("bob");
		// The channel is made through the UI; bob joins it from the channel browser.
		await ada.page.getByRole("button", { name: "New channel" }).click();
		const dialog = ada.page.getByRole("dialog");
		await dialog.getByLabel(/^Name/).fill("general");
		await dialog.getByRole("button", { name: /Create/ }).click();
		await ada.page.waitForURL(/\/channels\/\d+/);
		channelId = Number(new URL(ada.page.url()).pathname.split("/").pop());
		await bob.page.goto("/browse");
		await bob.page.getByRole("button", { name: /Join/ }).first().click();
		await bob.page.waitForURL(`**/channels/${channelId}`);
	}, 120_000);
	afterAll(async () => {
		await ada?.close();
		await bob?.close();
		await browser?.close();
		await app?.stop();
	});
	afterEach(() => {
		expect([...ada.problems, ...bob.problems]).toEqual([]);
	});

	it("chats in real time: a message, its edit, a reaction, the typing indicator and the unread badge", async () => {
		await bob.page.goto("/browse");
		const composer = ada.page.getByRole("textbox", { name: "Message #general" });
		await composer.click();
		await composer.pressSequentially("hello bob", { delay: 30 });
		await composer.press("Enter");
		// bob is elsewhere: his sidebar counts the message.
		const sidebar = bob.page.getByRole("navigation", { name: "Navigation" });
		await sidebar.getByRole("link", { name: "general 1 unread" }).waitFor();

		await sidebar.getByRole("link", { name: /^general/ }).click();
		const bobsLog = bob.page.getByRole("log", { name: /Messages in #general/ });
		await bobsLog.getByText("hello bob").waitFor();

		await bob.page.getByRole("textbox", { name: "Message #general" }).pressSequentially("hi", { delay: 50 });
		await ada.page.getByText(/bob is typing/).waitFor();

		const adasMessage = ada.page.getByRole("log", { name: /Messages in #general/ }).locator("[data-message-id]", { hasText: "hello bob" });
		await adasMessage.hover();
		await adasMessage.getByRole("button", { name: "Message actions" }).click();
		await ada.page.getByRole("menuitem", { name: "Edit" }).click();
		const editor = ada.page.getByRole("textbox", { name: "Edit message" });
		await editor.fill("hello bob, welcome");
		await editor.press("Enter");
		await bobsLog.getByText("hello bob, welcome").waitFor();

		const bobsView = bobsLog.locator("[data-message-id]", { hasText: "hello bob, welcome" });
		await bobsView.hover();
		await bobsView.getByRole("button", { name: "Add reaction" }).click();
		await bob.page.getByRole("menuitem", { name: "React with 👍" }).click();
		await adasMessage.getByRole("button", { name: /👍/ }).waitFor();

		expect(await accessibilityViolations(ada.page)).toEqual([]);
		await screenshot(ada.page, "channel");
	});

	it("replies in a thread, shown to the other person", async () => {
		const bobsMessage = bob.page.getByRole("log", { name: /Messages in #general/ }).locator("[data-message-id]", { hasText: "hello bob, welcome" });
		await bobsMessage.hover();
		await bobsMessage.getByRole("button", { name: "Message actions" }).click();
		await bob.page.getByRole("menuitem", { name: "Reply in thread" }).click();
		await bob.page.getByRole("heading", { name: "Thread" }).waitFor();
		const reply = bob.page.getByRole("textbox", { name: "Reply in thread" });
		await reply.fill("glad to be here");
		await reply.press("Enter");

		const adasMessage = ada.page.getByRole("log", { name: /Messages in #general/ }).locator("[data-message-id]", { hasText: "hello bob, welcome" });
		await adasMessage.getByText(/1 reply/).waitFor();
		await adasMessage.getByText(/1 reply/).click();
		await ada.page.getByRole("complementary").getByText("glad to be here").waitFor();
		expect(await accessibilityViolations(ada.page)).toEqual([]);
		await screenshot(ada.page, "thread");
	});

	it("plans a task on the board: created and assigned in one browser, noticed in the other, dragged across the workflow", async () => {
		const { page } = ada;
		// Six columns side by side: a wide screen shows the whole board, so a card can be dropped on any of them.
		await page.setViewportSize({ width: 1920, height: 1000 });
		await page.goto("/projects");
		await page.getByRole("button", { name: "New project" }).click();
		const dialog = page.getByRole("dialog");
		await dialog.getByLabel(/^Name/).fill("Launch");
		await dialog.getByRole("combobox", { name: "Members" }).click();
		await page.getByRole("option", { name: /bob/ }).click();
		await page.keyboard.press("Escape");
		await dialog.getByRole("button", { name: "Create project" }).click();
		// A new project opens on its board.
		await page.getByRole("heading", { name: "Launch", level: 1 }).waitFor();

		await page.getByRole("button", { name: "New task" }).click();
		const taskDialog = page.getByRole("dialog");
		await taskDialog.getByLabel(/^Title/).fill("Write the launch post");
		await taskDialog.getByRole("combobox", { name: "Assignee" }).selectOption({ label: "bob" });
		await taskDialog.getByRole("button", { name: "Create task" }).click();
		const backlog = page.getByRole("region", { name: "Backlog" });
		const card = page.getByRole("listitem").filter({ has: page.getByRole("link", { name: "Write the launch post" }) });
		await backlog.getByRole("link", { name: "Write the launch post" }).waitFor();

		// bob is told at once, wherever he is in the app.
		await bob.page.getByRole("button", { name: /Notifications, 1 unread/ }).waitFor();

		await drag(page, "Write the launch post", "Todo");
		await page.getByRole("region", { name: "Todo" }).getByRole("link", { name: "Write the launch post" }).waitFor();
		await expect(card.count()).resolves.toBe(1);

		// Todo → Done skips the workflow: the server refuses, the card goes back, the reason is shown.
		await drag(page, "Write the launch post", "Done");
		const refusal = page.getByRole("alert").filter({ hasText: /Not moved/ });
		await refusal.waitFor();
		expect(await refusal.textContent()).toMatch(/cannot move|not allowed/i);
		await page.getByRole("region", { name: "Todo" }).getByRole("link", { name: "Write the launch post" }).waitFor();
		expect(await accessibilityViolations(page)).toEqual([]);
		await screenshot(page, "board");

		await page.getByRole("link", { name: "Write the launch post" }).click();
		await page.getByRole("heading", { name: "Write the launch post", level: 1 }).waitFor();
		await page.getByRole("textbox", { name: "Comment" }).fill("Draft by Friday");
		await page.getByRole("button", { name: "Add comment" }).click();
		await page.getByRole("region", { name: "Discussion" }).getByText("Draft by Friday").waitFor();
		// The AI's triage, done in the background by the test Ollama, with its confidence.
		await page.getByRole("region", { name: "AI triage" }).getByText(/^\d+%$/).waitFor({ timeout: 30_000 });
		await page.getByRole("region", { name: "Activity" }).getByText(/Draft by Friday|commented/).first().waitFor();
		expect(await accessibilityViolations(page)).toEqual([]);
		await screenshot(page, "task");
	});

	it("tells bob in the notifications panel, opened and cleared with the keyboard alone", async () => {
		const { page } = bob;
		await page.goto(`/channels/${channelId}`);
		const bell = page.getByRole("button", { name: /^Notifications, \d+ unread/ });
		await bell.waitFor();
		await bell.focus();
		await page.keyboard.press("Enter");
		const panel = page.getByRole("dialog", { name: "Notifications" });
		await panel.getByText(/ada assigned you “Write the launch post”/).waitFor();
		expect(await accessibilityViolations(page)).toEqual([]);
		await screenshot(page, "notifications-panel");
		await panel.getByRole("button", { name: "Mark all read" }).focus();
		await page.keyboard.press("Enter");
		await page.getByRole("button", { name: "Notifications", exact: true }).waitFor();
	});

	it("sends a message with the keyboard alone: Tab reaches the composer, Enter sends", async () => {
		const { page } = ada;
		await page.goto(`/channels/${channelId}`);
		await page.getByRole("heading", { name: "general", level: 1 }).waitFor();
		const composer = page.getByRole("textbox", { name: "Message #general" });
		let reached = false;
		for (let presses = 0; presses < 60 && !reached; presses++) {
			await page.keyboard.press("Tab");
			reached = await composer.evaluate((element) => element === element.ownerDocument.activeElement);
		}
		expect(reached).toBe(true);
		await page.keyboard.type("typed without a mouse");
		await page.keyboard.press("Enter");
		await bob.page.getByRole("log", { name: /Messages in #general/ }).getByText("typed without a mouse").waitFor();
	});

	it("shows an offline banner, keeps what is typed offline in the outbox and sends it on reconnection", async () => {
		const { page } = ada;
		await page.goto(`/channels/${channelId}`);
		await page.getByRole("heading", { name: "general", level: 1 }).waitFor();
		const context = page.context();
		await context.setOffline(true);
		await page.getByRole("status").filter({ hasText: /offline|Reconnecting/ }).waitFor();
		const composer = page.getByRole("textbox", { name: "Message #general" });
		await composer.fill("written in the tunnel");
		await composer.press("Enter");
		await page.getByRole("log", { name: /Messages in #general/ }).getByText("written in the tunnel").waitFor();
		await new Promise((resolve) => setTimeout(resolve, 500));
		expect(await bob.page.getByText("written in the tunnel").count()).toBe(0);

		await context.setOffline(false);
		await bob.page.getByRole("log", { name: /Messages in #general/ }).getByText("written in the tunnel").waitFor({ timeout: 30_000 });
		await page.getByRole("status").filter({ hasText: /offline|Reconnecting/ }).waitFor({ state: "detached", timeout: 30_000 });
		expect(await bob.page.getByRole("log", { name: /Messages in #general/ }).getByText("written in the tunnel").count()).toBe(1);
	});

	it("adds a document to the knowledge base and answers a question about it, citing it", async () => {
		const { page } = ada;
		await page.goto("/knowledge");
		await page.getByRole("heading", { name: "Knowledge", level: 1 }).waitFor();
		await page.getByRole("textbox", { name: "Title" }).fill("Holiday handbook");
		await page.getByRole("textbox", { name: "Text" }).fill("# Holidays\n\nEveryone at the colony gets thirty days of holiday a year, taken in summer.");
		await page.getByRole("button", { name: "Add document" }).click();
		await page.getByText("Holiday handbook").first().waitFor();
		await page.getByRole("textbox", { name: "Question" }).fill("How many days of holiday does everyone get?");
		await page.getByRole("button", { name: "Ask" }).click();
		const answer = page.getByRole("region", { name: "Answer" });
		await answer.waitFor({ timeout: 30_000 });
		await answer.getByRole("list", { name: "Sources" }).getByText("Holiday handbook").waitFor();
		await screenshot(page, "knowledge-answer");
	});

	it("passes axe-core on every screen, in the light and the dark theme", async () => {
		const { page } = ada;
		await page.setViewportSize({ width: 1280, height: 800 });
		const screens: [string, string, string][] = [
			["channel", `/channels/${channelId}`, "general"],
			["browse", "/browse", "Browse channels"],
			["projects", "/projects", "Projects"],
			["board", "/projects/1", "Launch"],
			["task", "/tasks/1", "Write the launch post"],
			["knowledge", "/knowledge", "Knowledge"],
			["notifications", "/notifications", "Notifications"],
			["preferences", "/settings/notifications", "Notification preferences"],
			["admin-users", "/admin/users", "Users and roles"],
			["admin-ai-hosts", "/admin/ai", "AI hosts"],
		];
		const found: Record<string, string[]> = {};
		for (const scheme of ["light", "dark"] as const) {
			await page.evaluate(`localStorage.setItem("colony.color-scheme", "${scheme}")`);
			for (const [name, path, heading] of screens) {
				await page.goto(path);
				await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
				await page.waitForLoadState("networkidle");
				const violations = await accessibilityViolations(page);
				if (violations.length > 0) found[`${name} (${scheme})`] = violations;
				await screenshot(page, `${name}-${scheme}`);
			}
		}
		expect(found).toEqual({});
	});

	it("streams the assistant's answer to @ai, token by token, then keeps it as a message", async () => {
		await ada.page.goto(`/channels/${channelId}`);
		await bob.page.goto(`/channels/${channelId}`);
		const composer = ada.page.getByRole("textbox", { name: "Message #general" });
		await composer.fill("@ai what do ants eat?");
		await composer.press("Enter");
		const log = bob.page.getByRole("log", { name: /Messages in #general/ });
		// The test Ollama sends a word every 40 ms: bob sees the answer grow while it is written.
		const writing = log.locator("[data-stream-for]");
		await writing.waitFor({ timeout: 30_000 });
		const written = async () => {
			const text = (await writing.textContent().catch(() => null)) ?? "";
			return text.slice(text.indexOf("writing…") + "writing…".length).trim();
		};
		await until(async () => (await written()).length > 0, "the first words of the answer");
		const early = (await writing.textContent()) ?? "";
		const stored = log.locator("[data-message-id]", { hasText: "Colony AI" });
		await stored.waitFor({ timeout: 30_000 });
		const final = (await stored.textContent()) ?? "";
		expect(early).toContain("Colony AI");
		expect(final).toContain("Colony AI");
		const partial = early.slice(early.indexOf("writing…") + "writing…".length).trim();
		expect(final).toContain(partial);
		expect(partial.length).toBeLessThan(final.length);
		expect(await writing.count()).toBe(0);
	});
});

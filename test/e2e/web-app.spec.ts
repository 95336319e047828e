import type { Browser, Page } from "playwright-core";
import { accessibilityViolations, describeBrowser, launchBrowser, personContext, screenshot } from "../support/browser";
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

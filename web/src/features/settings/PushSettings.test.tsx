import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { disablePush, enablePush, keyBytes } from "../../lib/push";
import { renderWithProviders } from "../../test/render";
import { PushSettings } from "./PushSettings";

const fake = vi.hoisted(() => ({
	api: { pushKey: vi.fn(), subscribePush: vi.fn(), unsubscribePush: vi.fn() },
}));

vi.mock("../../lib/session", () => ({ api: fake.api }));

// A VAPID public key is 65 bytes (an uncompressed P-256 point), sent as base64url.
const VAPID_KEY = "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U";

interface FakeBrowser {
	permission: NotificationPermission;
	subscription: { endpoint: string; options: { applicationServerKey: ArrayBuffer | null }; toJSON(): unknown; unsubscribe: ReturnType<typeof vi.fn> } | null;
	subscribe: ReturnType<typeof vi.fn>;
}

function fakeBrowser(permission: NotificationPermission = "default"): FakeBrowser {
	const browser: FakeBrowser = { permission, subscription: null, subscribe: vi.fn() };
	browser.subscribe.mockImplementation(async (options: { applicationServerKey: Uint8Array }) => {
		browser.subscription = {
			endpoint: "https://push.example.com/send/abc",
			options: { applicationServerKey: options.applicationServerKey.slice().buffer },
			toJSON: () => ({ endpoint: "https://push.example.com/send/abc", keys: { p256dh: "BPublicKeyOfTheBrowser0123456789", auth: "authSecret12345" } }),
			unsubscribe: vi.fn(async () => {
				browser.subscription = null;
				return true;
			}),
		};
		return browser.subscription;
	});
	const registration = { pushManager: { getSubscription: async () => browser.subscription, subscribe: browser.subscribe } };
	vi.stubGlobal("isSecureContext", true);
	vi.stubGlobal("PushManager", class {});
	vi.stubGlobal("Notification", {
		get permission() {
			return browser.permission;
		},
		requestPermission: async () => {
			if (browser.permission === "default") browser.permission = "granted";
			return browser.permission;
		},
	});
	Object.defineProperty(navigator, "serviceWorker", {
		configurable: true,
		value: { getRegistration: async () => registration, register: vi.fn(), ready: Promise.resolve(registration) },
	});
	return browser;
}

describe("Web Push in this browser", () => {
	beforeEach(() => {
		vi.clearAllMocks();
		fake.api.pushKey.mockResolvedValue(VAPID_KEY);
		fake.api.subscribePush.mockResolvedValue(undefined);
		fake.api.unsubscribePush.mockResolvedValue(undefined);
	});

	afterEach(() => {
		vi.unstubAllGlobals();
		delete (navigator as { serviceWorker?: unknown }).serviceWorker;
	});

	it("reads the server's key as the 65 bytes of a P-256 point", () => {
		const bytes = keyBytes(VAPID_KEY);
		expect(bytes).toHaveLength(65);
		expect(bytes[0]).toBe(4);
	});

	it("subscribes with the server's key and sends the subscription to the server", async () => {
		const browser = fakeBrowser();
		await enablePush(fake.api);
		expect(browser.subscribe).toHaveBeenCalledWith({ userVisibleOnly: true, applicationServerKey: keyBytes(VAPID_KEY) });
		expect(fake.api.subscribePush).toHaveBeenCalledWith({
			endpoint: "https://push.example.com/send/abc",
			keys: { p256dh: "BPublicKeyOfTheBrowser0123456789", auth: "authSecret12345" },
		});
		await disablePush(fake.api);
		expect(fake.api.unsubscribePush).toHaveBeenCalledWith("https://push.example.com/send/abc");
		expect(browser.subscription).toBeNull();
	});

	it("says so when the browser blocks notifications", async () => {
		fakeBrowser("denied");
		await expect(enablePush(fake.api)).rejects.toThrow(/blocks notifications/);
		expect(fake.api.subscribePush).not.toHaveBeenCalled();
	});

	it("is turned on and off from the preferences", async () => {
		const user = userEvent.setup();
		fakeBrowser();
		renderWithProviders(<PushSettings />);
		await user.click(await screen.findByRole("button", { name: "Enable browser notifications" }));
		expect(await screen.findByText("Browser notifications are on for this browser.")).toBeTruthy();
		expect(fake.api.subscribePush).toHaveBeenCalledTimes(1);
		await user.click(screen.getByRole("button", { name: "Turn off browser notifications" }));
		expect(await screen.findByText("Browser notifications are off for this browser.")).toBeTruthy();
		expect(fake.api.unsubscribePush).toHaveBeenCalledTimes(1);
	});

	it("shows the server's reason when Web Push is not set up there", async () => {
		const user = userEvent.setup();
		fakeBrowser();
		fake.api.pushKey.mockRejectedValue(new Error("Web Push is not set up on this server (VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY)"));
		renderWithProviders(<PushSettings />);
		await user.click(await screen.findByRole("button", { name: "Enable browser notifications" }));
		expect((await screen.findByRole("alert")).textContent).toContain("Web Push is not set up on this server");
	});
});

import { ColonyApiError } from "@colony/client";
import type { NotificationPreferences } from "@colony/types/notifications";
import { fireEvent, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { renderWithProviders } from "../../test/render";
import { seriousViolations } from "../notifications/a11y.test-helper";
import { changesOf, draftOf } from "./draft";
import PreferencesPage from "./PreferencesPage";

const fake = vi.hoisted(() => ({
	api: {
		notificationPreferences: vi.fn(),
		setNotificationPreferences: vi.fn(),
		pushKey: vi.fn(),
		subscribePush: vi.fn(),
		unsubscribePush: vi.fn(),
	},
}));

vi.mock("../../lib/session", () => ({ api: fake.api }));

function stored(): NotificationPreferences {
	const everywhere = { inApp: true, email: true, push: true };
	return {
		timeZone: "Europe/Paris",
		quietHours: null,
		digest: { enabled: true, windowMinutes: 60 },
		channels: {
			mention: { ...everywhere },
			direct_message: { ...everywhere },
			assignment: { ...everywhere },
			status_change: { ...everywhere },
			comment: { ...everywhere },
			due_soon: { ...everywhere },
			ai_reply: { ...everywhere },
		},
	};
}

// The form is large and jsdom slow at computing roles: the labels find its fields faster.
describe("the notification preferences", { timeout: 20_000 }, () => {
	beforeEach(() => {
		vi.clearAllMocks();
		Element.prototype.scrollIntoView ??= () => {};
		fake.api.notificationPreferences.mockResolvedValue(stored());
	});

	it("sends only the changed switches, quiet hours and digest", async () => {
		const user = userEvent.setup();
		fake.api.setNotificationPreferences.mockImplementation(async () => ({ ...stored(), quietHours: { start: "23:00", end: "07:00" } }));
		renderWithProviders(<PreferencesPage />, "/settings/notifications");
		expect(screen.getByRole("heading", { level: 1, name: "Notification preferences" })).toBeTruthy();

		await user.click(await screen.findByLabelText("Email for Mentions"));
		await user.click(screen.getByLabelText("Push for AI replies"));
		await user.click(screen.getByLabelText("Quiet hours"));
		fireEvent.change(screen.getByLabelText("Quiet hours start"), { target: { value: "23:00" } });
		await user.click(screen.getByLabelText("Send a digest email"));
		await user.click(screen.getByRole("button", { name: "Save preferences" }));

		await waitFor(() => expect(fake.api.setNotificationPreferences).toHaveBeenCalledTimes(1));
		expect(fake.api.setNotificationPreferences).toHaveBeenCalledWith({
			quietHours: { start: "23:00", end: "07:00" },
			digest: { enabled: false },
			channels: { mention: { email: false }, ai_reply: { push: false } },
		});
		expect(await screen.findByText("Your preferences are saved.")).toBeTruthy();
	});

	it("sends a new digest window and time zone", async () => {
		const user = userEvent.setup();
		fake.api.setNotificationPreferences.mockResolvedValue(stored());
		renderWithProviders(<PreferencesPage />, "/settings/notifications");
		const window = await screen.findByRole("textbox", { name: "Digest window (minutes)" });
		await user.clear(window);
		await user.type(window, "30");
		const zone = screen.getByRole("combobox", { name: "Time zone" });
		await user.click(zone);
		await user.clear(zone);
		await user.type(zone, "Asia/Tok");
		// jsdom lays nothing out: the dropdown counts as detached from its input, and so as hidden.
		await user.click(await screen.findByRole("option", { name: "Asia/Tokyo", hidden: true }));
		await user.click(screen.getByRole("button", { name: "Save preferences" }));
		await waitFor(() => expect(fake.api.setNotificationPreferences).toHaveBeenCalledWith({ timeZone: "Asia/Tokyo", digest: { windowMinutes: 30 } }));
	});

	it("shows the server's validation reason", async () => {
		const user = userEvent.setup();
		fake.api.setNotificationPreferences.mockRejectedValue(
			new ColonyApiError(422, "VALIDATION_ERROR", "Parameters validation error!", [
				{ field: "timeZone", type: "timeZone", message: "The 'timeZone' field must be an IANA time zone such as 'Europe/Paris'." },
			]),
		);
		renderWithProviders(<PreferencesPage />, "/settings/notifications");
		await user.click(await screen.findByLabelText("In app for Comments"));
		await user.click(screen.getByRole("button", { name: "Save preferences" }));
		const alert = await screen.findByRole("alert");
		expect(alert.textContent).toContain("The 'timeZone' field must be an IANA time zone such as 'Europe/Paris'.");
	});

	it("checks quiet hours and the digest window before sending", async () => {
		const user = userEvent.setup();
		renderWithProviders(<PreferencesPage />, "/settings/notifications");
		await user.click(await screen.findByLabelText("Quiet hours"));
		fireEvent.change(screen.getByLabelText("Quiet hours end"), { target: { value: "22:00" } });
		const window = screen.getByRole("textbox", { name: "Digest window (minutes)" });
		await user.clear(window);
		await user.type(window, "2");
		await user.click(screen.getByRole("button", { name: "Save preferences" }));
		expect(await screen.findByText("The end is the same time as the start: there would be no quiet hours.")).toBeTruthy();
		expect(screen.getByText("Enter whole minutes from 5 to 1440.")).toBeTruthy();
		expect(fake.api.setNotificationPreferences).not.toHaveBeenCalled();
	});

	it("has no serious accessibility violations", async () => {
		const { container } = renderWithProviders(<PreferencesPage />, "/settings/notifications");
		await screen.findByLabelText("Email for Mentions");
		expect(await seriousViolations(container)).toEqual([]);
	});
});

describe("the preferences draft", () => {
	it("takes the browser's zone for someone still on the server's default", () => {
		const saved = { ...stored(), timeZone: "UTC" };
		const draft = draftOf(saved, "America/Chicago");
		expect(draft.timeZone).toBe("America/Chicago");
		expect(changesOf(saved, draft)).toEqual({ timeZone: "America/Chicago" });
		expect(draftOf(stored(), "America/Chicago").timeZone).toBe("Europe/Paris");
	});

	it("turns quiet hours off with null", () => {
		const saved = { ...stored(), quietHours: { start: "22:00", end: "07:00" } };
		expect(changesOf(saved, { ...draftOf(saved), quietHours: false })).toEqual({ quietHours: null });
	});
});

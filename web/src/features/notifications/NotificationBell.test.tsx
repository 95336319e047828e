import type { NotificationPage, NotificationView } from "@colony/types/notifications";
import { act, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { renderWithProviders } from "../../test/render";
import { seriousViolations } from "./a11y.test-helper";
import { NotificationBell } from "./NotificationBell";

const fake = vi.hoisted(() => ({
	listeners: new Map<string, (payload: unknown) => void>(),
	api: {
		notifications: vi.fn(),
		markNotificationRead: vi.fn(),
		markAllNotificationsRead: vi.fn(),
	},
}));

vi.mock("../../lib/session", () => ({
	api: fake.api,
	useBridgeEvent: (event: string, listener: (payload: unknown) => void) => {
		fake.listeners.set(event, listener);
	},
}));

function notification(id: number, change: Partial<NotificationView> = {}): NotificationView {
	return {
		id,
		type: "mention",
		priority: "urgent",
		title: `Ada mentioned you ${id}`,
		body: "in #general",
		link: `/tasks/${id}`,
		actorId: 2,
		createdAt: new Date(Date.now() - 5 * 60_000).toISOString(),
		readAt: null,
		...change,
	};
}

function page(items: NotificationView[], unread: number): NotificationPage {
	return { items, unread, nextCursor: null };
}

function push(payload: NotificationView) {
	act(() => fake.listeners.get("notification")!(payload));
}

function renderBell() {
	return renderWithProviders(
		<>
			<NotificationBell />
			<Routes>
				<Route path="/" element={<p>Home</p>} />
				<Route path="/tasks/:id" element={<p>Task page</p>} />
			</Routes>
		</>,
	);
}

describe("the notification bell", () => {
	beforeEach(() => {
		vi.clearAllMocks();
		fake.listeners.clear();
		fake.api.notifications.mockResolvedValue(page([notification(2), notification(1, { readAt: new Date().toISOString() })], 3));
	});

	it("shows the unread count and counts a live notification once", async () => {
		renderBell();
		expect(await screen.findByRole("button", { name: "Notifications, 3 unread" })).toBeTruthy();
		push(notification(3));
		expect(screen.getByRole("button", { name: "Notifications, 4 unread" })).toBeTruthy();
		// The same notification delivered again is not counted again.
		push(notification(3));
		expect(screen.getByRole("button", { name: "Notifications, 4 unread" })).toBeTruthy();
		expect(screen.getByRole("status").textContent).toBe("New notification: Ada mentioned you 3");
	});

	it("lists the latest in a popover, and mark all read resets the count", async () => {
		const user = userEvent.setup();
		fake.api.markAllNotificationsRead.mockResolvedValue({ read: 3, unread: 0 });
		renderBell();
		await user.click(await screen.findByRole("button", { name: "Notifications, 3 unread" }));
		const dialog = await screen.findByRole("dialog", { name: "Notifications" });
		expect(dialog.textContent).toContain("Ada mentioned you 2");
		expect(dialog.textContent).toContain("Unread: Ada mentioned you 2");
		await user.click(await screen.findByRole("button", { name: "Mark all read" }));
		expect(fake.api.markAllNotificationsRead).toHaveBeenCalledTimes(1);
		await waitFor(() => expect(screen.getByRole("button", { name: "Notifications" })).toBeTruthy());
		expect(screen.queryByText(/Unread:/)).toBeNull();
	});

	it("marks a notification read and opens its link when it is clicked", async () => {
		const user = userEvent.setup();
		fake.api.markNotificationRead.mockResolvedValue({ notification: notification(2, { readAt: new Date().toISOString() }), unread: 2 });
		renderBell();
		await user.click(await screen.findByRole("button", { name: "Notifications, 3 unread" }));
		await user.click(await screen.findByRole("link", { name: /Ada mentioned you 2/ }));
		expect(fake.api.markNotificationRead).toHaveBeenCalledWith(2);
		expect(await screen.findByText("Task page")).toBeTruthy();
		await waitFor(() => expect(screen.getByRole("button", { name: "Notifications, 2 unread" })).toBeTruthy());
	});

	it("has no serious accessibility violations, open or closed", async () => {
		const user = userEvent.setup();
		renderBell();
		await user.click(await screen.findByRole("button", { name: "Notifications, 3 unread" }));
		await screen.findByRole("dialog", { name: "Notifications" });
		expect(await seriousViolations()).toEqual([]);
	});
});

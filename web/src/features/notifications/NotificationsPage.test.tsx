import type { NotificationView } from "@colony/types/notifications";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { renderWithProviders } from "../../test/render";
import { seriousViolations } from "./a11y.test-helper";
import NotificationsPage from "./NotificationsPage";

const fake = vi.hoisted(() => ({
	api: {
		notifications: vi.fn(),
		markNotificationRead: vi.fn(),
		markAllNotificationsRead: vi.fn(),
	},
}));

vi.mock("../../lib/session", () => ({ api: fake.api, useBridgeEvent: () => {} }));

function notification(id: number, readAt: string | null = null): NotificationView {
	return {
		id,
		type: "assignment",
		priority: "urgent",
		title: `Task ${id} was assigned to you`,
		body: "Board: Launch",
		link: `/tasks/${id}`,
		actorId: 2,
		createdAt: new Date(Date.now() - id * 3_600_000).toISOString(),
		readAt,
	};
}

describe("the notifications screen", () => {
	beforeEach(() => {
		vi.clearAllMocks();
		fake.api.notifications.mockImplementation(async (query: { unread?: boolean; cursor?: string }) => {
			if (query.unread) return { items: [notification(1)], unread: 1, nextCursor: null };
			if (query.cursor === "2") return { items: [notification(3, new Date().toISOString())], unread: 1, nextCursor: null };
			return { items: [notification(1), notification(2, new Date().toISOString())], unread: 1, nextCursor: "2" };
		});
	});

	it("pages through the list with its cursor", async () => {
		const user = userEvent.setup();
		renderWithProviders(<NotificationsPage />, "/notifications");
		expect(screen.getByRole("heading", { level: 1, name: "Notifications" })).toBeTruthy();
		const list = await screen.findByRole("list", { name: "All notifications" });
		expect(within(list).getAllByRole("listitem")).toHaveLength(2);
		await user.click(screen.getByRole("button", { name: "Load more" }));
		await waitFor(() => expect(within(list).getAllByRole("listitem")).toHaveLength(3));
		expect(fake.api.notifications).toHaveBeenLastCalledWith({ cursor: "2", limit: 30, unread: undefined });
		expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();
	});

	it("filters to the unread ones", async () => {
		const user = userEvent.setup();
		renderWithProviders(<NotificationsPage />, "/notifications");
		await screen.findByRole("list", { name: "All notifications" });
		await user.click(screen.getByRole("switch", { name: "Unread only" }));
		const list = await screen.findByRole("list", { name: "Unread notifications" });
		expect(within(list).getAllByRole("listitem")).toHaveLength(1);
		expect(fake.api.notifications).toHaveBeenLastCalledWith({ unread: true, cursor: undefined, limit: 30 });
	});

	it("marks one read, then all", async () => {
		const user = userEvent.setup();
		fake.api.markNotificationRead.mockResolvedValue({ notification: notification(1, new Date().toISOString()), unread: 0 });
		fake.api.markAllNotificationsRead.mockResolvedValue({ read: 0, unread: 0 });
		renderWithProviders(<NotificationsPage />, "/notifications");
		await user.click(await screen.findByRole("button", { name: "Mark read: Task 1 was assigned to you" }));
		expect(fake.api.markNotificationRead).toHaveBeenCalledWith(1);
		expect(await screen.findByText("Everything is read.")).toBeTruthy();
		expect(screen.queryByRole("button", { name: /^Mark read/ })).toBeNull();
		expect((screen.getByRole("button", { name: "Mark all read" }) as HTMLButtonElement).disabled).toBe(true);
	});

	it("has no serious accessibility violations", async () => {
		const { container } = renderWithProviders(<NotificationsPage />, "/notifications");
		await screen.findByRole("list", { name: "All notifications" });
		expect(await seriousViolations(container)).toEqual([]);
	});
});

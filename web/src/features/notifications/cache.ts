import type { NotificationPage, NotificationView } from "@colony/types/notifications";
import type { InfiniteData, QueryClient } from "@tanstack/react-query";

/** How many notifications the bell shows. */
export const LATEST_COUNT = 8;

export const notificationKeys = {
	all: ["notifications"] as const,
	/** The bell's latest notifications and the unread count (a `NotificationPage`). */
	latest: ["notifications", "latest"] as const,
	/** The notifications screen's pages (an infinite query). */
	lists: ["notifications", "list"] as const,
	list: (unreadOnly: boolean) => ["notifications", "list", { unreadOnly }] as const,
};

type ListData = InfiniteData<NotificationPage, string | null>;

function updateLists(queryClient: QueryClient, change: (page: NotificationPage) => NotificationPage): void {
	queryClient.setQueriesData<ListData>({ queryKey: notificationKeys.lists }, (data) => (data ? { ...data, pages: data.pages.map(change) } : data));
}

/** A notification pushed over the socket: counted once, however often it arrives. */
export function receiveNotification(queryClient: QueryClient, notification: NotificationView): void {
	queryClient.setQueryData<NotificationPage>(notificationKeys.latest, (data) => {
		if (!data || data.items.some((item) => item.id === notification.id)) return data;
		return {
			...data,
			items: [notification, ...data.items].slice(0, LATEST_COUNT),
			unread: data.unread + (notification.readAt ? 0 : 1),
		};
	});
	// The screen's pages are cursor-based: fetched again rather than patched, so no page shifts under a cursor.
	void queryClient.invalidateQueries({ queryKey: notificationKeys.lists });
}

/** One notification read, with the unread count the server answered. */
export function notificationRead(queryClient: QueryClient, notification: NotificationView, unread: number): void {
	const readAt = notification.readAt ?? new Date().toISOString();
	const mark = (item: NotificationView) => (item.id === notification.id && !item.readAt ? { ...item, readAt } : item);
	queryClient.setQueryData<NotificationPage>(notificationKeys.latest, (data) => (data ? { ...data, items: data.items.map(mark), unread } : data));
	updateLists(queryClient, (page) => ({ ...page, unread, items: page.items.map(mark) }));
}

export function allNotificationsRead(queryClient: QueryClient): void {
	const readAt = new Date().toISOString();
	const mark = (item: NotificationView) => (item.readAt ? item : { ...item, readAt });
	queryClient.setQueryData<NotificationPage>(notificationKeys.latest, (data) => (data ? { ...data, items: data.items.map(mark), unread: 0 } : data));
	updateLists(queryClient, (page) => ({ ...page, unread: 0, items: page.items.map(mark) }));
	// An "unread only" list keeps what it shows until it is fetched again, so nothing vanishes under the pointer.
}

/** A link of this app (`/tasks/12`), never another site: what a notification may send the person to. */
export function appPath(link: string | null): string | null {
	return link && link.startsWith("/") && !link.startsWith("//") && !link.startsWith("/\\") ? link : null;
}

import type { ComponentType } from "react";
import { createBrowserRouter, Navigate } from "react-router";
import { AppLayout } from "./layout/AppLayout";
import { NotFound } from "./layout/NotFound";
import { RequireUser } from "./layout/RequireUser";

/** A screen loaded when first visited: each is its own chunk, so the first load stays small. */
function screen(load: () => Promise<{ default: ComponentType }>) {
	return async () => ({ Component: (await load()).default });
}

export const router = createBrowserRouter([
	{ path: "/signin", lazy: screen(() => import("./features/auth/SignInPage")) },
	{ path: "/signup", lazy: screen(() => import("./features/auth/SignUpPage")) },
	{
		element: (
			<RequireUser>
				<AppLayout />
			</RequireUser>
		),
		children: [
			{ index: true, element: <Navigate to="/channels" replace /> },
			{ path: "channels", lazy: screen(() => import("./features/chat/ChatHomePage")) },
			{ path: "channels/:channelId", lazy: screen(() => import("./features/chat/ChannelPage")) },
			{ path: "browse", lazy: screen(() => import("./features/chat/ChannelBrowserPage")) },
			{ path: "projects", lazy: screen(() => import("./features/tasks/ProjectsPage")) },
			{ path: "projects/:projectId", lazy: screen(() => import("./features/tasks/BoardPage")) },
			{ path: "tasks/:taskId", lazy: screen(() => import("./features/tasks/TaskPage")) },
			{ path: "knowledge", lazy: screen(() => import("./features/knowledge/KnowledgePage")) },
			{ path: "notifications", lazy: screen(() => import("./features/notifications/NotificationsPage")) },
			{ path: "settings/notifications", lazy: screen(() => import("./features/settings/PreferencesPage")) },
			{ path: "admin/users", lazy: screen(() => import("./features/admin/UsersPage")) },
			{ path: "admin/ai", lazy: screen(() => import("./features/admin/AiHostsPage")) },
			{ path: "*", element: <NotFound /> },
		],
	},
]);

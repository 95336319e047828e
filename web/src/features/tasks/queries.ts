import type { PublicUser, TaskPage } from "@colony/client";
import type { ProjectView, TaskView } from "@colony/types/tasks";
import { useQuery, type InfiniteData, type QueryClient } from "@tanstack/react-query";
import { useMemo } from "react";
import { api } from "../../lib/session";
import { matchesFilters, type ColumnFilters } from "./model";

/** The query keys of this feature: everything of a project's board sits under `["tasks", projectId]`. */
export const keys = {
	projects: ["projects"] as const,
	project: (projectId: number) => ["project", projectId] as const,
	workflow: (projectId: number) => ["workflow", projectId] as const,
	board: (projectId: number) => ["tasks", projectId] as const,
	columns: (projectId: number) => ["tasks", projectId, "column"] as const,
	column: (projectId: number, status: string, filters: ColumnFilters) => ["tasks", projectId, "column", status, filters] as const,
	task: (taskId: number) => ["task", taskId] as const,
	comments: (taskId: number) => ["task", taskId, "comments"] as const,
	activity: (taskId: number) => ["task", taskId, "activity"] as const,
	users: ["users"] as const,
};

export type ColumnData = InfiniteData<TaskPage, string | undefined>;

/** Everyone, for pickers and names: `GET /users` page by page (100 a page). */
async function allUsers(): Promise<PublicUser[]> {
	const users: PublicUser[] = [];
	let cursor: string | undefined;
	for (let page = 0; page < 50; page++) {
		const answer = await api.request<{ items: PublicUser[]; nextCursor?: string | null }>("GET", "/users", { query: { limit: 100, cursor } });
		users.push(...answer.items);
		if (!answer.nextCursor) break;
		cursor = answer.nextCursor;
	}
	return users;
}

export function useUsers() {
	const query = useQuery({ queryKey: keys.users, queryFn: allUsers, staleTime: 5 * 60_000 });
	const byId = useMemo(() => new Map((query.data ?? []).map((user) => [user.id, user])), [query.data]);
	return { users: query.data ?? [], byId, isPending: query.isPending };
}

/** A person's name as the screens show it. */
export function nameOf(byId: Map<number, PublicUser>, userId: number | null): string {
	if (userId === null) return "Colony";
	return byId.get(userId)?.displayName ?? `User ${userId}`;
}

/** The project's members as options of a picker, by name. */
export function memberOptions(project: ProjectView | undefined, byId: Map<number, PublicUser>): { value: string; label: string }[] {
	return (project?.members ?? [])
		.map((member) => ({ value: String(member.userId), label: nameOf(byId, member.userId) }))
		.sort((a, b) => a.label.localeCompare(b.label));
}

export function useProject(projectId: number, enabled = true) {
	return useQuery({ queryKey: keys.project(projectId), queryFn: () => api.getProject(projectId), enabled: enabled && Number.isInteger(projectId) && projectId > 0 });
}

export function useWorkflow(projectId: number, enabled = true) {
	return useQuery({ queryKey: keys.workflow(projectId), queryFn: () => api.getWorkflow(projectId), enabled: enabled && Number.isInteger(projectId) && projectId > 0 });
}

/**
 * Puts a task where it now belongs in every loaded column of its project (out of the others), newest first as the
 * server lists them, so a move or an edit shows at once; a refetch confirms it after.
 */
export function placeTask(queryClient: QueryClient, task: TaskView): void {
	for (const query of queryClient.getQueryCache().findAll({ queryKey: keys.columns(task.projectId) })) {
		const [, , , status, filters] = query.queryKey as ReturnType<typeof keys.column>;
		queryClient.setQueryData<ColumnData>(query.queryKey, (data) => {
			if (!data) return data;
			const pages = data.pages.map((page) => ({ ...page, items: page.items.filter((item) => item.id !== task.id) }));
			if (status === task.status && matchesFilters(task, filters)) insertNewestFirst(pages, task);
			return { ...data, pages };
		});
	}
}

function insertNewestFirst(pages: TaskPage[], task: TaskView): void {
	for (const page of pages) {
		const index = page.items.findIndex((item) => item.id < task.id);
		if (index >= 0) {
			page.items.splice(index, 0, task);
			return;
		}
	}
	// Older than everything loaded: it belongs here only if nothing older is left to load.
	const last = pages[pages.length - 1];
	if (last && !last.nextCursor) last.items.push(task);
}

/** The tasks of a project's board loaded so far. */
export function loadedTasks(queryClient: QueryClient, projectId: number): TaskView[] {
	return queryClient.getQueriesData<ColumnData>({ queryKey: keys.columns(projectId) }).flatMap(([, data]) => data?.pages.flatMap((page) => page.items) ?? []);
}

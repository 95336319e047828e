import { ColonyApiError } from "@colony/client";
import type { PublicUser } from "@colony/types/users";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { renderWithProviders } from "../../test/render";
import { seriousViolations } from "../notifications/a11y.test-helper";
import AiHostsPage, { type HostView } from "./AiHostsPage";
import UsersPage from "./UsersPage";

const fake = vi.hoisted(() => ({
	me: { id: 1, username: "root", displayName: "Root Admin", roles: ["admin"], createdAt: "2026-01-01T00:00:00.000Z" } as PublicUser,
	request: vi.fn(),
}));

vi.mock("../../lib/session", () => ({ api: { request: fake.request }, useMe: () => fake.me }));

const users: PublicUser[] = [
	{ id: 1, username: "root", displayName: "Root Admin", email: "root@example.com", roles: ["admin"], createdAt: "2026-01-01T00:00:00.000Z" },
	{ id: 2, username: "ai", displayName: "Colony AI", roles: ["member"], createdAt: "2026-01-01T00:00:00.000Z", assistant: true },
	{ id: 3, username: "bea", displayName: "Bea Member", email: "bea@example.com", roles: ["member"], createdAt: "2026-01-02T00:00:00.000Z" },
];

function host(change: Partial<HostView> = {}): HostView {
	return {
		nodeID: "gpu-1",
		healthy: true,
		usable: true,
		checkedAt: Date.now() - 2_000,
		defaultModel: "llama3.1:8b",
		embedModel: "nomic-embed-text",
		models: ["llama3.1:8b", "nomic-embed-text"],
		loaded: [{ name: "llama3.1:8b", sizeVram: 5.5 * 1024 ** 3, expiresAt: null }],
		gpus: [{ name: "NVIDIA L4", memoryUsedMb: 6_144, memoryTotalMb: 24_576, utilizationPercent: 37 }],
		parallel: 4,
		inFlight: 2,
		queued: 5,
		...change,
	};
}

describe("the administration screens", () => {
	beforeEach(() => {
		vi.clearAllMocks();
		fake.me = { ...fake.me, roles: ["admin"] };
	});

	it("tell everyone else they are not allowed", () => {
		fake.me = { ...fake.me, roles: ["member"] };
		renderWithProviders(<UsersPage />, "/admin/users");
		expect(screen.getByRole("heading", { level: 1, name: "Users and roles" })).toBeTruthy();
		expect(screen.getByText("Not allowed")).toBeTruthy();
		renderWithProviders(<AiHostsPage />, "/admin/ai");
		expect(screen.getAllByText("Not allowed")).toHaveLength(2);
		expect(fake.request).not.toHaveBeenCalled();
	});

	it("change a user's roles", async () => {
		const user = userEvent.setup();
		fake.request.mockImplementation(async (method: string, path: string, options: { body?: { roles: string[] } }) => {
			if (method === "GET" && path === "/users") return { items: users, nextCursor: null };
			if (method === "PATCH" && path === "/users/3/roles") return { ...users[2], roles: options.body!.roles };
			throw new Error(`No fake for ${method} ${path}`);
		});
		renderWithProviders(<UsersPage />, "/admin/users");
		const roles = await screen.findByRole("group", { name: "Roles of Bea Member" });
		await user.click(within(roles).getByRole("checkbox", { name: "Admin" }));
		expect(fake.request).toHaveBeenCalledWith("PATCH", "/users/3/roles", { body: { roles: ["admin", "member"] } });
		expect(await screen.findByText("Saved: Admin, Member.")).toBeTruthy();
		expect((within(roles).getByRole("checkbox", { name: "Admin" }) as HTMLInputElement).checked).toBe(true);
		// The assistant's account has no roles to change.
		expect(screen.queryByRole("group", { name: "Roles of Colony AI" })).toBeNull();
	});

	it("show why the last admin keeps the admin role", async () => {
		const user = userEvent.setup();
		fake.request.mockImplementation(async (method: string, _path: string, options: { body?: { roles: string[] } }) => {
			if (method === "GET") return { items: users, nextCursor: null };
			if (options.body!.roles.includes("admin")) return { ...users[0], roles: options.body!.roles };
			throw new ColonyApiError(409, "LAST_ADMIN", "The last admin cannot lose the admin role");
		});
		renderWithProviders(<UsersPage />, "/admin/users");
		const roles = await screen.findByRole("group", { name: "Roles of Root Admin" });
		await user.click(within(roles).getByRole("checkbox", { name: "Member" }));
		await screen.findByText("Saved: Admin, Member.");
		await user.click(within(roles).getByRole("checkbox", { name: "Admin" }));
		expect(fake.request).toHaveBeenLastCalledWith("PATCH", "/users/1/roles", { body: { roles: ["member"] } });
		expect((await screen.findByRole("alert")).textContent).toBe("The last admin cannot lose the admin role");
		expect((within(roles).getByRole("checkbox", { name: "Admin" }) as HTMLInputElement).checked).toBe(true);
	});

	it("show each AI host's health, models, GPU memory and queue, read again every few seconds", async () => {
		vi.useFakeTimers({ shouldAdvanceTime: true });
		try {
			fake.request.mockResolvedValueOnce({ items: [host(), host({ nodeID: "gpu-2", healthy: false, usable: false, problem: "Ollama did not answer", loaded: [], gpus: undefined })] });
			fake.request.mockResolvedValue({ items: [host({ queued: 0 })] });
			const { container } = renderWithProviders(<AiHostsPage />, "/admin/ai");
			const first = await screen.findByRole("region", { name: "gpu-1" });
			expect(within(first).getByText("Healthy")).toBeTruthy();
			expect(within(first).getByText("2 of 4 slots")).toBeTruthy();
			expect(within(first).getByText("5")).toBeTruthy();
			expect(within(first).getByRole("cell", { name: "5.5 GiB" })).toBeTruthy();
			expect(within(first).getByRole("progressbar", { name: "GPU memory used on NVIDIA L4 1 of gpu-1" }).getAttribute("aria-valuenow")).toBe("25");
			const second = screen.getByRole("region", { name: "gpu-2" });
			expect(within(second).getByText("Unhealthy")).toBeTruthy();
			expect(within(second).getByText("Ollama did not answer")).toBeTruthy();
			expect(screen.getByText("1 of 2 hosts answering.")).toBeTruthy();
			expect(await seriousViolations(container)).toEqual([]);

			await vi.advanceTimersByTimeAsync(3_100);
			await waitFor(() => expect(screen.queryByRole("region", { name: "gpu-2" })).toBeNull());
			expect(fake.request).toHaveBeenCalledTimes(2);
			expect(fake.request).toHaveBeenLastCalledWith("GET", "/ai/hosts");
		} finally {
			vi.useRealTimers();
		}
	});

	it("have no serious accessibility violations on the users screen", async () => {
		fake.request.mockResolvedValue({ items: users, nextCursor: null });
		const { container } = renderWithProviders(<UsersPage />, "/admin/users");
		await screen.findByRole("group", { name: "Roles of Bea Member" });
		expect(await seriousViolations(container)).toEqual([]);
	});
});

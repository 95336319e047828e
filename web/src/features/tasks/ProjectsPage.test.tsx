import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { renderWithProviders } from "../../test/render";
import { api, layOut, resetWorld } from "./fake-api";
import ProjectsPage from "./ProjectsPage";

vi.mock("../../lib/session", async () => (await import("./fake-api")).sessionModule);

function renderProjects() {
	return renderWithProviders(
		<Routes>
			<Route path="/projects" element={<ProjectsPage />} />
			<Route path="/projects/:projectId" element={<h1>The board</h1>} />
		</Routes>,
		"/projects",
	);
}

beforeEach(() => {
	resetWorld();
	layOut();
});
afterEach(() => vi.restoreAllMocks());

describe("the projects page", () => {
	it("lists the user's projects with links to their boards", async () => {
		renderProjects();
		expect(screen.getByRole("heading", { level: 1, name: "Projects" })).toBeTruthy();
		const list = await screen.findByRole("list", { name: "Your projects" });
		const link = within(list).getByRole("link", { name: "Apollo" });
		expect(link.getAttribute("href")).toBe("/projects/1");
		expect(within(list).getByText("2 members")).toBeTruthy();
		expect(within(list).getByText("Admin")).toBeTruthy();
	});

	it("creates a project with members and automatic AI triage, then opens its board", async () => {
		const user = userEvent.setup();
		renderProjects();
		await user.click(screen.getByRole("button", { name: "New project" }));
		const dialog = await screen.findByRole("dialog", { name: "New project" });
		await user.type(within(dialog).getByLabelText(/^Name/), "Gemini");
		await user.type(within(dialog).getByLabelText("Description"), "Two-person flights");
		await user.click(within(dialog).getByLabelText("Members"));
		await user.click(await screen.findByRole("option", { name: "Grace Hopper (@grace)" }));
		await user.click(within(dialog).getByRole("switch", { name: "Apply AI triage automatically" }));
		await user.click(within(dialog).getByRole("button", { name: "Create project" }));

		await waitFor(() => expect(api.createProject).toHaveBeenCalledWith({ name: "Gemini", description: "Two-person flights", members: [2], autoApplyTriage: true }));
		expect(await screen.findByRole("heading", { name: "The board" })).toBeTruthy();
	}, 20_000);

	it("asks for a name before creating", async () => {
		const user = userEvent.setup();
		renderProjects();
		await user.click(screen.getByRole("button", { name: "New project" }));
		const dialog = await screen.findByRole("dialog", { name: "New project" });
		await user.click(within(dialog).getByRole("button", { name: "Create project" }));
		expect(await within(dialog).findByText("Give the project a name.")).toBeTruthy();
		expect(api.createProject).not.toHaveBeenCalled();
	});
});

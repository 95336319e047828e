import { ColonyApiError } from "@colony/client";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { renderWithProviders } from "../../test/render";
import BoardPage from "./BoardPage";
import { api, layOut, makeTask, me, resetWorld, sessionModule, world } from "./fake-api";

vi.mock("../../lib/session", async () => (await import("./fake-api")).sessionModule);

function renderBoard(path = "/projects/1") {
	return renderWithProviders(
		<Routes>
			<Route path="/projects/:projectId" element={<BoardPage />} />
		</Routes>,
		path,
	);
}

async function column(name: string) {
	return screen.findByRole("region", { name });
}

beforeEach(() => {
	resetWorld();
	layOut();
	world.tasks = [
		makeTask({ id: 1, title: "Write the launch checklist", status: "todo", priority: "high", assigneeId: 2, labels: ["docs"], dueDate: "2030-05-01T21:59:59.999Z" }),
		makeTask({ id: 2, title: "Fix the guidance computer", status: "in_progress", triage: { status: "done", priority: "urgent", labels: ["bug"], confidence: 0.9, applied: false, similar: [] } }),
		makeTask({ id: 3, title: "Old idea", status: "backlog" }),
	];
});

afterEach(() => vi.restoreAllMocks());

describe("the board", () => {
	it("shows a column per workflow state, in the workflow's order, each with its tasks", async () => {
		renderBoard();
		expect(await screen.findByRole("heading", { level: 1, name: "Apollo" })).toBeTruthy();
		const names = ["Backlog", "Todo", "In progress", "In review", "Done", "Cancelled"];
		for (const name of names) expect(await column(name)).toBeTruthy();
		expect(screen.getAllByRole("region").map((region) => within(region).getByRole("heading", { level: 2 }).textContent)).toEqual(names);

		const todo = await column("Todo");
		const card = await within(todo).findByRole("link", { name: "Write the launch checklist" });
		expect(card.getAttribute("href")).toBe("/tasks/1");
		expect(within(todo).getByText("High")).toBeTruthy();
		expect(within(todo).getByText("Grace Hopper")).toBeTruthy();
		expect(within(todo).getByText("docs")).toBeTruthy();
		expect(within(todo).getByText(/Due/)).toBeTruthy();

		const inProgress = await column("In progress");
		expect(await within(inProgress).findByRole("link", { name: "Fix the guidance computer" })).toBeTruthy();
		// The AI's suggestion waits on this one.
		expect(within(inProgress).getByText("AI")).toBeTruthy();
		expect(within(await column("Backlog")).getByRole("link", { name: "Old idea" })).toBeTruthy();
		expect(within(await column("Done")).getByText("No tasks")).toBeTruthy();
	});

	it("lists in a card's “Move to…” menu only the states the workflow allows from its state, for the user's role", async () => {
		// Only admins may cancel from Todo in this project; Ada is a plain member here.
		world.projects[0].members = [
			{ userId: me.id, role: "member" },
			{ userId: 2, role: "admin" },
		];
		world.workflow = {
			...world.workflow,
			transitions: world.workflow.transitions.map((transition) => (transition.from === "todo" && transition.to === "cancelled" ? { ...transition, roles: ["admin"] } : transition)),
		};
		const user = userEvent.setup();
		renderBoard();
		await user.click(await screen.findByRole("button", { name: "Move “Write the launch checklist”" }));
		const items = await screen.findAllByRole("menuitem");
		expect(items.map((item) => item.textContent)).toEqual(["Backlog", "In progress"]);
	});

	it("moves a card to an allowed state with the version it was read at, and shows it there", async () => {
		const user = userEvent.setup();
		renderBoard();
		await user.click(await screen.findByRole("button", { name: "Move “Write the launch checklist”" }));
		await user.click(await screen.findByRole("menuitem", { name: "In progress" }));

		expect(api.moveTask).toHaveBeenCalledWith(1, "in_progress", 1);
		const inProgress = await column("In progress");
		await within(inProgress).findByRole("link", { name: "Write the launch checklist" });
		await waitFor(() => expect(within(screen.getByRole("region", { name: "Todo" })).queryByRole("link", { name: "Write the launch checklist" })).toBeNull());
		// Still there once the board has been fetched again.
		await waitFor(() => expect(world.tasks.find((task) => task.id === 1)?.status).toBe("in_progress"));
		expect(within(screen.getByRole("region", { name: "In progress" })).getByRole("link", { name: "Write the launch checklist" })).toBeTruthy();
		expect(screen.queryByRole("alert")).toBeNull();
	});

	it("puts the card back and shows the server's reason when the server refuses the move (422 ILLEGAL_TRANSITION)", async () => {
		// The workflow changed on the server since the board read it.
		api.moveTask.mockRejectedValueOnce(
			new ColonyApiError(422, "ILLEGAL_TRANSITION", "A task in 'todo' cannot move to 'in_progress': it can go to backlog", { from: "todo", to: "in_progress", allowed: ["backlog"] }),
		);
		const user = userEvent.setup();
		renderBoard();
		await user.click(await screen.findByRole("button", { name: "Move “Write the launch checklist”" }));
		await user.click(await screen.findByRole("menuitem", { name: "In progress" }));

		const alert = await screen.findByRole("alert");
		expect(alert.textContent).toContain("A task in 'todo' cannot move to 'in_progress': it can go to backlog");
		expect(alert.textContent).toContain("Write the launch checklist");
		const todo = screen.getByRole("region", { name: "Todo" });
		expect(within(todo).getByRole("link", { name: "Write the launch checklist" })).toBeTruthy();
		expect(within(screen.getByRole("region", { name: "In progress" })).queryByRole("link", { name: "Write the launch checklist" })).toBeNull();
		// The focus is back on the card's menu button, in its own column.
		await waitFor(() => expect(document.activeElement?.getAttribute("aria-label")).toBe("Move “Write the launch checklist”"));
		// The workflow is read again: it may have changed.
		await waitFor(() => expect(api.getWorkflow.mock.calls.length).toBeGreaterThan(1));
	});

	it("says a stale card was changed by someone else (409) and puts it back", async () => {
		world.tasks = world.tasks.map((task) => (task.id === 1 ? { ...task, version: 4 } : task));
		const user = userEvent.setup();
		renderBoard();
		// The board read version 4; someone moves it on meanwhile.
		await user.click(await screen.findByRole("button", { name: "Move “Write the launch checklist”" }));
		world.tasks = world.tasks.map((task) => (task.id === 1 ? { ...task, version: 5 } : task));
		await user.click(await screen.findByRole("menuitem", { name: "In progress" }));
		expect(api.moveTask).toHaveBeenCalledWith(1, "in_progress", 4);
		expect((await screen.findByRole("alert")).textContent).toMatch(/changed by someone else/);
		expect(within(screen.getByRole("region", { name: "Todo" })).getByRole("link", { name: "Write the launch checklist" })).toBeTruthy();
	});

	it("keeps the filters in the URL and asks the server with them", async () => {
		const user = userEvent.setup();
		renderBoard("/projects/1?assignee=2&label=docs");
		await column("Todo");
		await waitFor(() => expect(api.listTasks).toHaveBeenCalledWith(1, expect.objectContaining({ assigneeId: 2, label: "docs", status: "todo" })));
		expect((screen.getByLabelText("Assigned to") as HTMLSelectElement).value).toBe("2");
		expect((screen.getByLabelText("With label") as HTMLInputElement).value).toBe("docs");

		await user.selectOptions(screen.getByLabelText("State"), "todo");
		await waitFor(() => expect(screen.queryByRole("region", { name: "Backlog" })).toBeNull());
		expect(screen.getByRole("region", { name: "Todo" })).toBeTruthy();
	});

	it("creates a task from the “New task” dialog", async () => {
		const user = userEvent.setup();
		renderBoard();
		await user.click(await screen.findByRole("button", { name: "New task" }));
		const dialog = await screen.findByRole("dialog", { name: "New task" });
		await user.type(within(dialog).getByLabelText(/^Title/), "Test the parachutes");
		await user.type(within(dialog).getByLabelText("Description"), "Drop tests at altitude");
		await user.selectOptions(within(dialog).getByLabelText("Priority"), "urgent");
		await user.selectOptions(within(dialog).getByLabelText("Assignee"), "2");
		await user.type(within(dialog).getByLabelText("Labels"), "safety{enter}");
		await user.type(within(dialog).getByLabelText("Due date"), "2030-06-01");
		await user.click(within(dialog).getByRole("button", { name: "Create task" }));

		await waitFor(() => expect(api.createTask).toHaveBeenCalled());
		expect(api.createTask).toHaveBeenCalledWith(
			1,
			expect.objectContaining({ title: "Test the parachutes", description: "Drop tests at altitude", priority: "urgent", assigneeId: 2, labels: ["safety"], dueDate: expect.any(String) }),
		);
		expect(await within(await column("Backlog")).findByRole("link", { name: "Test the parachutes" })).toBeTruthy();
	}, 20_000);

	it("moves a card by keyboard drag and drop, marking the columns it may not go to, with screen-reader announcements", async () => {
		const user = userEvent.setup();
		renderBoard();
		const handle = await screen.findByRole("button", { name: "Drag “Write the launch checklist”" });
		expect(handle.getAttribute("aria-roledescription")).toBe("draggable");
		// How to do it is read out with the handle.
		expect(document.getElementById(handle.getAttribute("aria-describedby")!)?.textContent).toMatch(/press space or enter to pick it up/);
		handle.focus();
		await user.keyboard("[Space]");
		await waitFor(() => expect(screen.getByRole("region", { name: "Done" }).getAttribute("data-drop")).toBe("blocked"));
		// Todo goes to Backlog, In progress or Cancelled only: the others say so while the card is carried.
		expect(screen.getByRole("region", { name: "In progress" }).getAttribute("data-drop")).toBe("allowed");
		const done = screen.getByRole("region", { name: "Done" });
		expect(done.getAttribute("data-drop")).toBe("blocked");
		expect(within(done).getByText(/Not allowed/)).toBeTruthy();

		await new Promise((resolve) => setTimeout(resolve, 10));
		await user.keyboard("[ArrowRight]");
		await waitFor(() => expect(document.body.textContent).toContain("“Write the launch checklist” is over In progress."));
		await user.keyboard("[Space]");
		await waitFor(() => expect(api.moveTask).toHaveBeenCalledWith(1, "in_progress", 1));
		expect(await within(screen.getByRole("region", { name: "In progress" })).findByRole("link", { name: "Write the launch checklist" })).toBeTruthy();
		// The focus follows the card to its new column.
		await waitFor(() => expect(document.activeElement?.getAttribute("aria-label")).toBe("Drag “Write the launch checklist”"));
	});

	it("does not send a drop on a column the workflow does not allow, and says why", async () => {
		const user = userEvent.setup();
		renderBoard();
		const handle = await screen.findByRole("button", { name: "Drag “Write the launch checklist”" });
		handle.focus();
		await user.keyboard("[Space]");
		await new Promise((resolve) => setTimeout(resolve, 10));
		await user.keyboard("[ArrowRight][ArrowRight][ArrowRight]");
		await waitFor(() => expect(document.body.textContent).toContain("is over Done, where it may not go."));
		await user.keyboard("[Space]");
		const alert = await screen.findByRole("alert");
		expect(alert.textContent).toContain("“Write the launch checklist” cannot move from Todo to Done. From Todo it can go to Backlog, In progress, Cancelled.");
		expect(api.moveTask).not.toHaveBeenCalled();
		expect(within(screen.getByRole("region", { name: "Todo" })).getByRole("link", { name: "Write the launch checklist" })).toBeTruthy();
	});

	it("fetches the board again when a notification points at one of its tasks", async () => {
		renderBoard();
		await within(await column("Todo")).findByRole("link", { name: "Write the launch checklist" });
		const listener = sessionModule.useBridgeEvent.mock.calls.filter(([event]) => event === "notification").at(-1)?.[1] as (payload: unknown) => void;
		expect(listener).toBeTypeOf("function");
		world.tasks = world.tasks.map((task) => (task.id === 1 ? { ...task, status: "done", version: 2 } : task));
		const calls = api.listTasks.mock.calls.length;
		listener({ id: 9, type: "status_change", priority: "low", title: "Moved", body: "", link: "/tasks/1", actorId: 2, createdAt: new Date().toISOString(), readAt: null });
		await waitFor(() => expect(api.listTasks.mock.calls.length).toBeGreaterThan(calls));
		expect(await within(screen.getByRole("region", { name: "Done" })).findByRole("link", { name: "Write the launch checklist" })).toBeTruthy();
	});

	it("loads a long column page by page with its “Load more” button", async () => {
		world.tasks = Array.from({ length: 30 }, (_, i) => makeTask({ id: 100 + i, title: `Checklist item ${i + 1}`, status: "done" }));
		const user = userEvent.setup();
		renderBoard();
		const done = await column("Done");
		await waitFor(() => expect(within(done).getAllByRole("listitem")).toHaveLength(25));
		// Newest first, as the server lists them.
		expect(within(done).getAllByRole("link")[0].textContent).toBe("Checklist item 30");
		await user.click(within(done).getByRole("button", { name: "Load more tasks in Done" }));
		await waitFor(() => expect(within(done).getAllByRole("listitem")).toHaveLength(30));
		expect(api.listTasks).toHaveBeenCalledWith(1, expect.objectContaining({ status: "done", cursor: "105" }));
		expect(within(done).queryByRole("button", { name: "Load more tasks in Done" })).toBeNull();
	}, 20_000);

	it("says so when the project does not exist or is not the user's", async () => {
		renderBoard("/projects/99");
		expect(await screen.findByRole("heading", { level: 1, name: "Project not found" })).toBeTruthy();
	});
});

import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { renderWithProviders } from "../../test/render";
import { api, layOut, makeTask, me, resetWorld, world } from "./fake-api";
import TaskPage from "./TaskPage";

vi.mock("../../lib/session", async () => (await import("./fake-api")).sessionModule);

function renderTask(taskId = 7) {
	return renderWithProviders(
		<Routes>
			<Route path="/tasks/:taskId" element={<TaskPage />} />
			<Route path="/projects/:projectId" element={<p>The board</p>} />
		</Routes>,
		`/tasks/${taskId}`,
	);
}

beforeEach(() => {
	resetWorld();
	layOut();
	world.tasks = [
		makeTask({ id: 3, title: "Radio check", status: "done" }),
		makeTask({
			id: 7,
			title: "Guidance computer overloads",
			description: "1202 alarms during descent",
			status: "in_progress",
			version: 3,
			labels: ["alarm"],
			triage: {
				status: "done",
				category: "bug",
				priority: "urgent",
				labels: ["guidance", "alarm"],
				confidence: 0.874,
				applied: false,
				similar: [{ taskId: 3, title: "Radio check", score: 0.81 }],
				at: "2025-03-01T10:01:00.000Z",
			},
		}),
	];
	world.comments = [{ id: 1, taskId: 7, userId: 2, text: "Seen it on the simulator too.", createdAt: "2025-03-01T11:00:00.000Z" }];
	world.activity = [
		{ id: 1, taskId: 7, actorId: me.id, action: "created", before: null, after: { title: "Guidance computer overloads" }, createdAt: "2025-03-01T10:00:00.000Z" },
		{ id: 2, taskId: 7, actorId: 2, action: "transitioned", before: { status: "todo" }, after: { status: "in_progress" }, createdAt: "2025-03-01T12:00:00.000Z" },
		{ id: 3, taskId: 7, actorId: 2, action: "assigned", before: { assigneeId: null }, after: { assigneeId: 2 }, createdAt: "2025-03-01T12:05:00.000Z" },
	];
});

afterEach(() => vi.restoreAllMocks());

describe("the task page", () => {
	it("shows the AI's suggestion with its confidence as a percentage, and applies it", async () => {
		const user = userEvent.setup();
		renderTask();
		expect(await screen.findByRole("heading", { level: 1, name: "Guidance computer overloads" })).toBeTruthy();
		const triage = screen.getByRole("region", { name: "AI triage" });
		expect(within(triage).getByText("87%")).toBeTruthy();
		expect(within(triage).getByText("bug")).toBeTruthy();
		expect(within(triage).getByText("Urgent")).toBeTruthy();
		expect(within(triage).getByRole("link", { name: "Radio check" }).getAttribute("href")).toBe("/tasks/3");
		expect(within(triage).getByText(/81% similar/)).toBeTruthy();

		await user.click(within(triage).getByRole("button", { name: "Apply suggestion" }));
		expect(api.applyTriage).toHaveBeenCalledWith(7, 3);
		expect(await within(triage).findByText("Applied to the task.")).toBeTruthy();
		expect(within(triage).queryByRole("button", { name: "Apply suggestion" })).toBeNull();
		// The task took the suggested priority and labels.
		await waitFor(() => expect((screen.getByLabelText("Priority") as HTMLSelectElement).value).toBe("urgent"));
	});

	it("says the suggestion is pending while the AI has not answered", async () => {
		world.tasks = world.tasks.map((task) => (task.id === 7 ? { ...task, triage: { status: "pending", applied: false, similar: [] } } : task));
		renderTask();
		const triage = await screen.findByRole("region", { name: "AI triage" });
		expect(within(triage).getByText(/Pending/)).toBeTruthy();
		expect(within(triage).queryByRole("button", { name: "Apply suggestion" })).toBeNull();
	});

	it("saves the changed fields with the version they were read at", async () => {
		const user = userEvent.setup();
		renderTask();
		const title = await screen.findByLabelText(/^Title/);
		await user.clear(title);
		await user.type(title, "Guidance computer overloads at 1202");
		await user.selectOptions(screen.getByLabelText("Priority"), "high");
		await user.selectOptions(screen.getByLabelText("Assignee"), "2");
		await user.click(screen.getByRole("button", { name: "Save changes" }));
		await waitFor(() => expect(api.updateTask).toHaveBeenCalledWith(7, { version: 3, title: "Guidance computer overloads at 1202", priority: "high", assigneeId: 2 }));
		expect(await screen.findByRole("heading", { level: 1, name: "Guidance computer overloads at 1202" })).toBeTruthy();
	}, 20_000);

	it("says the task was changed by someone else on a 409, and reloads it", async () => {
		const user = userEvent.setup();
		renderTask();
		await user.selectOptions(await screen.findByLabelText("Priority"), "low");
		// Meanwhile someone else renames it.
		world.tasks = world.tasks.map((task) => (task.id === 7 ? { ...task, title: "Renamed by Grace", version: 4 } : task));
		await user.click(screen.getByRole("button", { name: "Save changes" }));
		const alert = await screen.findByRole("alert");
		expect(alert.textContent).toMatch(/changed by someone else/i);
		await user.click(within(alert).getByRole("button", { name: "Reload task" }));
		expect(await screen.findByRole("heading", { level: 1, name: "Renamed by Grace" })).toBeTruthy();
		await waitFor(() => expect(screen.queryByRole("alert")).toBeNull());
		expect((screen.getByLabelText("Priority") as HTMLSelectElement).value).toBe("none");
		expect((screen.getByLabelText(/^Title/) as HTMLInputElement).value).toBe("Renamed by Grace");
	});

	it("moves the task with the allowed-moves menu", async () => {
		const user = userEvent.setup();
		renderTask();
		await user.click(await screen.findByRole("button", { name: "Move “Guidance computer overloads”" }));
		expect((await screen.findAllByRole("menuitem")).map((item) => item.textContent)).toEqual(["Todo", "In review", "Cancelled"]);
		await user.click(await screen.findByRole("menuitem", { name: "In review" }));
		expect(api.moveTask).toHaveBeenCalledWith(7, "in_review", 3);
		expect(await screen.findByText("In review")).toBeTruthy();
	});

	it("lists the comments and adds one", async () => {
		const user = userEvent.setup();
		renderTask();
		const comments = await screen.findByRole("region", { name: "Discussion" });
		expect(await within(comments).findByText("Seen it on the simulator too.")).toBeTruthy();
		expect(within(comments).getByText("Grace Hopper")).toBeTruthy();
		await user.type(within(comments).getByLabelText("Comment"), "Switching the radar off fixes it.");
		await user.click(within(comments).getByRole("button", { name: "Add comment" }));
		expect(api.addComment).toHaveBeenCalledWith(7, "Switching the radar off fixes it.");
		expect(await within(comments).findByText("Switching the radar off fixes it.")).toBeTruthy();
		expect((within(comments).getByLabelText("Comment") as HTMLTextAreaElement).value).toBe("");
	}, 20_000);

	it("shows the activity: who, when, and each field before and after", async () => {
		renderTask();
		const activity = await screen.findByRole("region", { name: "Activity" });
		const entries = await within(activity).findAllByRole("listitem");
		const text = entries.map((entry) => entry.textContent ?? "").join("\n");
		expect(text).toContain("Ada Lovelace created the task");
		expect(text).toMatch(/Grace Hopper moved the task/);
		expect(text).toMatch(/State: Todo →\s*changed to\s*In progress/);
		expect(text).toMatch(/Assignee: none →\s*changed to\s*Grace Hopper/);
		expect(within(activity).getAllByText((_, element) => element?.tagName === "TIME").length).toBeGreaterThan(0);
	});

	it("watches and stops watching", async () => {
		const user = userEvent.setup();
		world.tasks = world.tasks.map((task) => (task.id === 7 ? { ...task, createdBy: 2 } : task));
		renderTask();
		await user.click(await screen.findByRole("button", { name: "Watch" }));
		expect(api.watchTask).toHaveBeenCalledWith(7, true);
		await user.click(await screen.findByRole("button", { name: "Stop watching" }));
		expect(api.watchTask).toHaveBeenLastCalledWith(7, false);
		expect(await screen.findByRole("button", { name: "Watch" })).toBeTruthy();
	});
});

import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { renderWithProviders } from "../../test/render";
import ChannelPage from "./ChannelPage";
import { api, FakeBridge, fakeLayout, message, newestFirst, state } from "./testing";

vi.mock("../../lib/session", async () => (await import("./testing")).sessionModule);

let undoLayout: () => void;

beforeEach(() => {
	vi.clearAllMocks();
	state.bridge = new FakeBridge();
	undoLayout = fakeLayout();
});

afterEach(() => undoLayout());

function renderChannel() {
	return renderWithProviders(
		<Routes>
			<Route path="/channels/:channelId" element={<ChannelPage />} />
		</Routes>,
		"/channels/5",
	);
}

/** The ids of the messages in the DOM, in DOM order. */
function renderedIds(): number[] {
	return [...document.querySelectorAll("[data-message-id]")].map((element) => Number(element.getAttribute("data-message-id")));
}

describe("the message list", () => {
	it("renders only a window of 10,000 messages, the newest at the bottom", async () => {
		api.history.mockResolvedValueOnce({ items: newestFirst(1, 10_000), nextCursor: null });
		renderChannel();
		const log = await screen.findByRole("log", { name: "Messages in #general" });
		await within(log).findByText("message 10000");
		const ids = renderedIds();
		expect(ids.length).toBeGreaterThan(5);
		expect(ids.length).toBeLessThan(60);
		expect(ids.at(-1)).toBe(10_000);
		expect(screen.queryByText("message 1")).toBeNull();
		// The newest message is in view: the channel is read up to it.
		await waitFor(() => expect(api.markRead).toHaveBeenCalledWith(5, 10_000));
	});

	it("asks for older history when scrolled to the top, keeping the messages in order and each once", async () => {
		api.history.mockImplementation(async (_channelId: number, query?: unknown) => {
			const { before } = (query ?? {}) as { before?: string };
			if (!before) return { items: newestFirst(151, 200), nextCursor: "151" };
			// An overlapping page (151 again) must not show twice.
			return { items: newestFirst(101, 151), nextCursor: null };
		});
		renderChannel();
		const log = await screen.findByRole("log", { name: "Messages in #general" });
		await within(log).findByText("message 200");
		expect(api.history).toHaveBeenCalledTimes(1);

		log.scrollTop = 0;
		fireEvent.scroll(log);
		await waitFor(() => expect(api.history).toHaveBeenCalledWith(5, { before: "151", limit: 50 }));
		// What was in view stays in view: the older messages went above it.
		await waitFor(() => expect(log.scrollTop).toBeGreaterThan(40 * 48));

		log.scrollTop = 0;
		fireEvent.scroll(log);
		await within(log).findByText("This is the very beginning of #general.");
		await within(log).findByText("message 101");
		const ids = renderedIds();
		expect(ids).toEqual([...ids].sort((a, b) => a - b));
		expect(new Set(ids).size).toBe(ids.length);
		expect(ids[0]).toBe(101);
		expect(api.history).toHaveBeenCalledTimes(2);
	});

	it("appends a live message at the bottom", async () => {
		api.history.mockResolvedValueOnce({ items: newestFirst(1, 30), nextCursor: null });
		renderChannel();
		const log = await screen.findByRole("log", { name: "Messages in #general" });
		await within(log).findByText("message 30");

		state.bridge.emit("chat.message", message(31, { text: "fresh news", userId: 2 }));
		await within(log).findByText("fresh news");
		expect(renderedIds().at(-1)).toBe(31);
		// Another channel's message is not this one's.
		state.bridge.emit("chat.message", message(32, { channelId: 6, text: "elsewhere" }));
		expect(within(log).queryByText("elsewhere")).toBeNull();
	});

	it("shows a deleted message as a tombstone and an edit in place", async () => {
		api.history.mockResolvedValueOnce({ items: newestFirst(1, 5), nextCursor: null });
		renderChannel();
		const log = await screen.findByRole("log", { name: "Messages in #general" });
		await within(log).findByText("message 5");
		state.bridge.emit("chat.message.updated", message(5, { text: "message 5, corrected", editedAt: new Date().toISOString() }));
		await within(log).findByText("message 5, corrected");
		state.bridge.emit("chat.message.deleted", message(4, { text: null, deletedAt: new Date().toISOString() }));
		await within(log).findByText("message deleted");
		expect(within(log).queryByText("message 4")).toBeNull();
	});
});

describe("the assistant's answer", () => {
	it("grows with each piece, starts over on a higher attempt, and gives way to the stored answer", async () => {
		api.history.mockResolvedValueOnce({ items: [message(1, { text: "@ai what is a colony?", mentions: [9] })], nextCursor: null });
		renderChannel();
		const log = await screen.findByRole("log", { name: "Messages in #general" });
		await within(log).findByText("@ai", { exact: false });

		state.bridge.emit("ai.delta", { channelId: 5, replyTo: 1, delta: "A group ", attempt: 1 });
		state.bridge.emit("ai.delta", { channelId: 5, replyTo: 1, delta: "of ants", attempt: 1 });
		await within(log).findByText("A group of ants");

		state.bridge.emit("ai.delta", { channelId: 5, replyTo: 1, delta: "Many ants", attempt: 2 });
		await within(log).findByText("Many ants");
		expect(within(log).queryByText(/A group/)).toBeNull();
		// A late piece of the abandoned attempt is ignored.
		state.bridge.emit("ai.delta", { channelId: 5, replyTo: 1, delta: " (old)", attempt: 1 });
		expect(within(log).getByText("Many ants")).toBeTruthy();

		const answer = message(2, { userId: 9, text: "Many ants living together.", clientMsgId: "ai-reply:1" });
		state.bridge.emit("chat.message", answer);
		state.bridge.emit("ai.done", { channelId: 5, replyTo: 1, message: answer });
		await within(log).findByText("Many ants living together.");
		expect(within(log).queryByText("Many ants")).toBeNull();
		expect(log.querySelector("[aria-busy='true']")).toBeNull();
	});
});

describe("sending", () => {
	it("sends through the bridge and shows the message as pending until the server has it", async () => {
		api.history.mockResolvedValueOnce({ items: newestFirst(1, 3), nextCursor: null });
		state.bridge.connected = false;
		renderChannel();
		const composer = await screen.findByRole("textbox", { name: "Message #general" });
		fireEvent.change(composer, { target: { value: "see you tomorrow" } });
		fireEvent.keyDown(composer, { key: "Enter", code: "Enter" });
		expect(state.bridge.sendMessage).toHaveBeenCalledWith(expect.objectContaining({ channelId: 5, text: "see you tomorrow" }));
		const log = screen.getByRole("log", { name: "Messages in #general" });
		await within(log).findByText("see you tomorrow");
		await within(log).findByText(/Pending/);

		const { clientMsgId } = state.bridge.sendMessage.mock.calls[0][0];
		state.bridge.emit("chat.message", message(4, { userId: 1, text: "see you tomorrow", clientMsgId: clientMsgId ?? null }));
		await waitFor(() => expect(within(log).queryByText(/Pending/)).toBeNull());
		expect(within(log).getAllByText("see you tomorrow")).toHaveLength(1);
	});
});

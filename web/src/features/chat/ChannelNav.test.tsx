import type { ChannelListItem } from "@colony/client";
import { screen, waitFor } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { renderWithProviders } from "../../test/render";
import { ChannelNav } from "./ChannelNav";
import { api, FakeBridge, general, me, message, state } from "./testing";

vi.mock("../../lib/session", async () => (await import("./testing")).sessionModule);

const secret: ChannelListItem = { ...general, id: 6, type: "private", name: "secret", topic: null, member: true };
const elsewhere: ChannelListItem = { ...general, id: 7, name: "elsewhere", member: false };
const withBob: ChannelListItem = { ...general, id: 8, type: "direct", name: null, topic: null, memberIds: [1, 2] };

beforeEach(() => {
	vi.clearAllMocks();
	state.bridge = new FakeBridge();
	api.listChannels.mockResolvedValue([general, secret, elsewhere, withBob]);
	api.unread.mockResolvedValue([
		{ channelId: general.id, unread: 0, mentions: 0 },
		{ channelId: secret.id, unread: 2, mentions: 1 },
		{ channelId: withBob.id, unread: 0, mentions: 0 },
	]);
});

describe("the sidebar", () => {
	it("lists the channels and direct messages one is in, with unread counts, privacy and presence in words", async () => {
		renderWithProviders(<ChannelNav />, "/channels/5");
		const active = await screen.findByRole("link", { name: "general" });
		expect(active.getAttribute("href")).toBe("/channels/5");
		expect(active.getAttribute("aria-current")).toBe("page");
		expect((await screen.findByRole("link", { name: "secret (private) 1 mention 2 unread" })).getAttribute("href")).toBe("/channels/6");
		expect(await screen.findByRole("link", { name: "Bob Builder (online)" })).toBeTruthy();
		// A public channel one has not joined is for "Browse channels".
		expect(screen.queryByRole("link", { name: /elsewhere/ })).toBeNull();
		expect(screen.getByRole("link", { name: "Browse channels" }).getAttribute("href")).toBe("/browse");
		expect(screen.getByRole("button", { name: "New channel" })).toBeTruthy();
		expect(screen.getByRole("button", { name: "New direct message" })).toBeTruthy();
	});

	it("counts new messages of others live, mentions apart, and clears a channel once one writes in it", async () => {
		renderWithProviders(<ChannelNav />, "/");
		await screen.findByRole("link", { name: "general" });
		state.bridge.emit("chat.message", message(10, { userId: 2 }));
		state.bridge.emit("chat.message", message(11, { userId: 2, mentions: [me.id] }));
		await screen.findByRole("link", { name: "general 1 mention 2 unread" });
		state.bridge.emit("chat.message", message(12, { userId: me.id }));
		await screen.findByRole("link", { name: "general" });
	});

	it("reloads the channels when a message comes from a conversation it does not know yet", async () => {
		renderWithProviders(<ChannelNav />, "/");
		await screen.findByRole("link", { name: "general" });
		const calls = api.listChannels.mock.calls.length;
		state.bridge.emit("chat.message", message(20, { channelId: 99, userId: 2 }));
		await waitFor(() => expect(api.listChannels.mock.calls.length).toBeGreaterThan(calls));
	});
});

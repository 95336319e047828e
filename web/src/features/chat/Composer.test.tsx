import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { renderWithProviders } from "../../test/render";
import { Composer, insertMention, mentionAt, suggestPeople } from "./Composer";
import { people } from "./testing";

describe("the composer's @ autocomplete", () => {
	it("suggests people as an @name is typed and inserts the one chosen with the keyboard", async () => {
		const user = userEvent.setup();
		const onSend = vi.fn();
		renderWithProviders(<Composer label="Message #general" people={people} onSend={onSend} />);
		const composer = screen.getByRole("textbox", { name: "Message #general" });

		await user.type(composer, "hello @ad");
		const list = await screen.findByRole("listbox", { name: "People to mention" });
		const options = within(list).getAllByRole("option");
		expect(options.map((option) => option.textContent)).toEqual(["Ada Lovelace @ada", "Adam Smith @adam"]);
		expect(composer.getAttribute("aria-activedescendant")).toBe(options[0].id);

		await user.keyboard("{ArrowDown}");
		expect(composer.getAttribute("aria-activedescendant")).toBe(options[1].id);
		await user.keyboard("{Enter}");
		expect(composer).toHaveProperty("value", "hello @adam ");
		// Choosing did not send; the list closed.
		expect(onSend).not.toHaveBeenCalled();
		await waitFor(() => expect(screen.queryByRole("listbox", { name: "People to mention" })).toBeNull());

		await user.type(composer, "see you{Enter}");
		expect(onSend).toHaveBeenCalledWith("hello @adam see you");
		expect(composer).toHaveProperty("value", "");
	});

	it("inserts a suggestion clicked with the mouse, and Escape dismisses the list", async () => {
		const user = userEvent.setup();
		renderWithProviders(<Composer label="Message #general" people={people} onSend={vi.fn()} />);
		const composer = screen.getByRole("textbox", { name: "Message #general" });

		await user.type(composer, "@b");
		await user.click(await screen.findByRole("option", { name: /Bob Builder/ }));
		expect(composer).toHaveProperty("value", "@bob ");

		await user.type(composer, "and @a");
		await screen.findByRole("listbox", { name: "People to mention" });
		await user.keyboard("{Escape}");
		await waitFor(() => expect(screen.queryByRole("listbox", { name: "People to mention" })).toBeNull());
		// Enter now sends, since nothing is suggested.
		expect(composer).toHaveProperty("value", "@bob and @a");
	});

	it("starts a new line on Shift+Enter and sends on Enter", async () => {
		const user = userEvent.setup();
		const onSend = vi.fn();
		renderWithProviders(<Composer label="Message #general" people={people} onSend={onSend} />);
		const composer = screen.getByRole("textbox", { name: "Message #general" });
		await user.type(composer, "one{Shift>}{Enter}{/Shift}two");
		expect(composer).toHaveProperty("value", "one\ntwo");
		await user.click(screen.getByRole("button", { name: "Send" }));
		expect(onSend).toHaveBeenCalledWith("one\ntwo");
	});
});

describe("mentions in text", () => {
	it("finds the @name before the caret only where a mention can start", () => {
		expect(mentionAt("hi @ad", 6)).toEqual({ start: 3, query: "ad" });
		expect(mentionAt("@", 1)).toEqual({ start: 0, query: "" });
		expect(mentionAt("mail ada@example", 16)).toBeNull();
		expect(mentionAt("hi @ad there", 12)).toBeNull();
	});

	it("replaces the query by the username and a space", () => {
		expect(insertMention("hi @ad there", 3, 6, "adam")).toEqual({ text: "hi @adam there", caret: 9 });
		expect(insertMention("@b", 0, 2, "bob")).toEqual({ text: "@bob ", caret: 5 });
	});

	it("ranks usernames starting with the query first", () => {
		expect(suggestPeople(people, "a").map((user) => user.username)).toEqual(["ada", "adam", "ai"]);
		expect(suggestPeople(people, "smith").map((user) => user.username)).toEqual(["adam"]);
	});
});

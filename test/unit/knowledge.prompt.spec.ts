import { askMessages, citedRefs } from "../../services/knowledge/prompt";

describe("ask prompt", () => {
	it("numbers the sources in the system message and leaves the question to the user's turn", () => {
		const messages = askMessages("How long is the trial?", [
			{ ref: 1, title: "Pricing", section: "Plans › Trial", text: "The trial lasts 30 days." },
			{ ref: 2, title: "#sales message", section: null, text: "Trials can be extended once." },
		]);
		expect(messages).toHaveLength(2);
		expect(messages[0].role).toBe("system");
		expect(messages[0].content).toContain("[1] Pricing › Plans › Trial\nThe trial lasts 30 days.");
		expect(messages[0].content).toContain("[2] #sales message\nTrials can be extended once.");
		expect(messages[0].content).toMatch(/only the numbered sources/);
		expect(messages[1]).toEqual({ role: "user", content: "How long is the trial?" });
	});

	it("reads the sources an answer cites, once each, ignoring numbers that name no source", () => {
		expect(citedRefs("The trial lasts 30 days [1], extendable once [2][1].", 2)).toEqual([1, 2]);
		expect(citedRefs("See [3, 1] and [7].", 3)).toEqual([3, 1]);
		expect(citedRefs("No sources cited, array[0] is not one.", 3)).toEqual([]);
	});
});

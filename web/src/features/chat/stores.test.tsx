import { describe, expect, it } from "vitest";
import { applyDelta, endStream, streamAnsweredBy, typingSentence } from "./liveState";
import { mergeMessages } from "./messageStore";
import { buildRows, replyCounts } from "./rows";
import { message } from "./testing";

const ids = (messages: { id: number }[]) => messages.map((item) => item.id);

describe("merging messages", () => {
	it("keeps ids ascending and each once, whatever order pages and live messages come in", () => {
		const newest = [message(5), message(6), message(7)];
		expect(ids(mergeMessages(newest, [message(4), message(3)], false))).toEqual([3, 4, 5, 6, 7]);
		expect(ids(mergeMessages(newest, [message(8)], true))).toEqual([5, 6, 7, 8]);
		expect(ids(mergeMessages(newest, [message(7), message(6), message(5), message(4)], false))).toEqual([4, 5, 6, 7]);
		expect(ids(mergeMessages(newest, [message(9), message(9)], true))).toEqual([5, 6, 7, 9]);
	});

	it("takes a live update over what it has, and an older page does not undo one", () => {
		const edited = message(6, { text: "edited" });
		const merged = mergeMessages([message(5), message(6)], [edited], true);
		expect(merged[1].text).toBe("edited");
		expect(mergeMessages(merged, [message(6), message(4)], false)[2].text).toBe("edited");
		expect(mergeMessages(merged, [edited], true)).toBe(merged);
	});
});

describe("the assistant's streams", () => {
	it("appends pieces of one attempt and starts over on a higher one, ignoring stale pieces", () => {
		let streams = applyDelta(new Map(), { channelId: 5, replyTo: 1, delta: "Hel", attempt: 1 });
		streams = applyDelta(streams, { channelId: 5, replyTo: 1, delta: "lo", attempt: 1 });
		expect(streams.get(1)?.text).toBe("Hello");
		streams = applyDelta(streams, { channelId: 5, replyTo: 1, delta: "Hi", attempt: 2 });
		expect(streams.get(1)).toMatchObject({ text: "Hi", attempt: 2 });
		expect(applyDelta(streams, { channelId: 5, replyTo: 1, delta: "!", attempt: 1 })).toBe(streams);
		expect(endStream(streams, 1).size).toBe(0);
	});

	it("knows which stream a stored answer replaces", () => {
		let streams = applyDelta(new Map(), { channelId: 5, replyTo: 3, delta: "a", attempt: 1 });
		streams = applyDelta(streams, { channelId: 5, replyTo: 2, delta: "b", attempt: 1 });
		expect(streamAnsweredBy(streams, message(9, { clientMsgId: "ai-reply:3" }))).toBe(3);
		expect(streamAnsweredBy(streams, message(9))).toBe(2);
		expect(streamAnsweredBy(streams, message(9, { channelId: 6 }))).toBeNull();
	});
});

describe("rows", () => {
	it("counts replies, groups a run of one author's messages and starts with the channel's beginning", () => {
		const messages = [message(1), message(3), message(4, { parentId: 1 }), message(5, { parentId: 1, deletedAt: "x" })];
		expect(replyCounts(messages).get(1)).toBe(1);
		const rows = buildRows({ messages: messages.filter((item) => item.parentId === null), replies: replyCounts(messages), hasOlder: false });
		expect(rows.map((row) => row.kind)).toEqual(["intro", "message", "message"]);
		expect(rows[1]).toMatchObject({ replies: 1, compact: false });
		// Messages 1 and 3 are Ada's, two minutes apart.
		expect(rows[2]).toMatchObject({ compact: true, day: null });
	});

	it("says who is typing", () => {
		expect(typingSentence([])).toBe("");
		expect(typingSentence(["Bob"])).toBe("Bob is typing…");
		expect(typingSentence(["Bob", "Cy"])).toBe("Bob and Cy are typing…");
		expect(typingSentence(["Bob", "Cy", "Di"])).toBe("Several people are typing…");
	});
});

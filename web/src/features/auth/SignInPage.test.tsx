import { describe, expect, it } from "vitest";
import { safeNext } from "./SignInPage";

describe("the page after signing in", () => {
	it("is a path of this app, never another site", () => {
		expect(safeNext("/tasks/12")).toBe("/tasks/12");
		expect(safeNext(null)).toBe("/channels");
		expect(safeNext("https://evil.example")).toBe("/channels");
		expect(safeNext("//evil.example/x")).toBe("/channels");
		expect(safeNext("javascript:alert(1)")).toBe("/channels");
	});
});

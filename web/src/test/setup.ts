import { cleanup } from "@testing-library/react";
import { afterEach } from "vitest";

afterEach(() => cleanup());

// jsdom lacks what Mantine and the virtualised list measure with.
if (!window.matchMedia) {
	window.matchMedia = (query: string) =>
		({ matches: false, media: query, onchange: null, addListener() {}, removeListener() {}, addEventListener() {}, removeEventListener() {}, dispatchEvent: () => false }) as MediaQueryList;
}
if (!("ResizeObserver" in window)) {
	class NoResizeObserver {
		observe() {}
		unobserve() {}
		disconnect() {}
	}
	(window as unknown as { ResizeObserver: typeof NoResizeObserver }).ResizeObserver = NoResizeObserver;
}
// Mantine's autosizing Textarea waits on the document's fonts.
if (!("fonts" in document)) {
	Object.defineProperty(document, "fonts", { value: { ready: Promise.resolve(), addEventListener() {}, removeEventListener() {} } });
}

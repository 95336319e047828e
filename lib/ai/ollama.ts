import { Ollama } from "ollama";

/**
 * An Ollama client for one request: the official client cancels only all of its streams at once, so each request
 * gets an instance whose fetch carries that request's own abort signal (the client went away, the node stops,
 * the request outlived its timeout).
 */
export function ollamaFor(host: string, signal: AbortSignal): Ollama {
	return new Ollama({
		host,
		fetch: (input, init) => fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal }),
	});
}

/** How a call to Ollama failed, as far as choosing what to do next goes. */
export type OllamaFailure = "unreachable" | "busy" | "model-missing" | "bad-request" | "failed" | "aborted";

interface ResponseErrorLike {
	name?: string;
	status_code?: number;
	error?: string;
	message?: string;
	cause?: { code?: string };
	code?: string;
}

/** Sorts a failure of the ollama client: its ResponseError carries the HTTP status, fetch failures a cause code. */
export function classifyOllamaError(err: unknown): OllamaFailure {
	const failure = err as ResponseErrorLike;
	if (failure?.name === "AbortError" || failure?.name === "TimeoutError") return "aborted";
	const status = failure?.status_code;
	if (status === 503) return "busy";
	if (status === 404) return "model-missing";
	if (status !== undefined && status >= 400 && status < 500) return "bad-request";
	if (status !== undefined) return "failed";
	const code = failure?.cause?.code ?? failure?.code;
	// fetch to a host that is down, resets or closes: undici reports "fetch failed" with the socket's code.
	if (code || /fetch failed|other side closed|ECONN|socket/i.test(failure?.message ?? "")) return "unreachable";
	return "failed";
}

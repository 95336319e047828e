import { Writable } from "node:stream";
import { pino } from "pino";
import { moleculerCallsToPino } from "../../broker/logging";

function capture() {
	const lines: Record<string, unknown>[] = [];
	const sink = new Writable({
		write(chunk: Buffer, _encoding, done) {
			lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
			done();
		},
	});
	return { logger: moleculerCallsToPino(pino({ base: null }, sink)), lines };
}

describe("production log records", () => {
	it("keep an error logged after its text, with the error's message and stack, as Moleculer's services log them", async () => {
		const { logger, lines } = capture();

		logger.error("Sending the digest failed:", new Error("SMTP said no"));
		await new Promise((resolve) => setImmediate(resolve));

		expect(lines[0]).toMatchObject({ msg: "Sending the digest failed:", err: { message: "SMTP said no", stack: expect.stringContaining("Error: SMTP said no") } });
	});

	it("put the fields of a logged object at the top of the record and join the texts into its message", async () => {
		const { logger, lines } = capture();

		logger.info("GET", "/api/v1/users/me", 200, { requestID: "r-1" });
		await new Promise((resolve) => setImmediate(resolve));

		expect(lines[0]).toMatchObject({ msg: "GET /api/v1/users/me 200", requestID: "r-1" });
	});
});

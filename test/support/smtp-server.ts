import { simpleParser } from "mailparser";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
	from: string;
	to: string[];
	subject: string;
	text: string;
	messageId: string;
}

/** A real SMTP server on 127.0.0.1 that keeps what it receives, parsed; it can refuse mail for a while. */
export class SmtpTestServer {
	readonly received: ReceivedMail[] = [];
	/** While true every message is refused with a temporary error (451), as a mail server that is struggling. */
	refusing = false;
	private server!: SMTPServer;
	private port = 0;

	static async start(): Promise<SmtpTestServer> {
		const smtp = new SmtpTestServer();
		await smtp.listen(0);
		return smtp;
	}

	get url(): string {
		return `smtp://127.0.0.1:${this.port}`;
	}

	/** The mails sent to `address`. */
	to(address: string): ReceivedMail[] {
		return this.received.filter((mail) => mail.to.includes(address));
	}

	async stop(): Promise<void> {
		await new Promise<void>((resolve) => this.server.close(() => resolve()));
	}

	private async listen(port: number): Promise<void> {
		this.server = new SMTPServer({
			authOptional: true,
			disabledCommands: ["STARTTLS"],
			logger: false,
			onData: (stream, session, callback) => {
				if (this.refusing) {
					stream.resume();
					stream.on("end", () => callback(Object.assign(new Error("Try again later"), { responseCode: 451 })));
					return;
				}
				simpleParser(stream)
					.then((mail) => {
						this.received.push({
							from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
							to: session.envelope.rcptTo.map((recipient) => recipient.address),
							subject: mail.subject ?? "",
							text: mail.text ?? "",
							messageId: mail.messageId ?? "",
						});
						callback();
					})
					.catch((err: Error) => callback(err));
			},
		});
		await new Promise<void>((resolve, reject) => {
			this.server.once("error", reject);
			this.server.listen(port, "127.0.0.1", () => resolve());
		});
		this.port = (this.server.server.address() as AddressInfo).port;
	}
}

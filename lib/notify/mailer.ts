import { createTransport, type Transporter } from "nodemailer";

export interface OutgoingMail {
	to: string;
	subject: string;
	text: string;
	/** Stable per notification (or digest): a message sent twice after a crash has the same id, and mail systems drop the copy. */
	messageId: string;
}

export interface Mailer {
	send(mail: OutgoingMail): Promise<void>;
	close(): void;
}

type Log = (message: string) => void;

/**
 * Mail through nodemailer over SMTP_URL (`smtp://user:pass@host:587`, `smtps://…`), with deadlines on the
 * connection, the greeting and every exchange; without SMTP_URL each mail is written to the log instead.
 */
export function createMailer(smtpUrl: string | undefined, from: string, log: Log): Mailer {
	if (!smtpUrl) {
		return {
			async send(mail) {
				log(`Mail (SMTP_URL is not set, so not sent) to ${mail.to}: ${mail.subject}\n${mail.text}`);
			},
			close() {},
		};
	}
	// nodemailer reads `url` like host, port, security and credentials given one by one (its typings omit it).
	const options = { url: smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };
	const transport: Transporter = createTransport(options as Parameters<typeof createTransport>[0]);
	return {
		async send(mail) {
			await transport.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, messageId: mail.messageId });
		},
		close() {
			transport.close();
		},
	};
}

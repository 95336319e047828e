import { Anchor } from "@mantine/core";
import { memo, type ReactNode } from "react";
import classes from "./chat.module.css";

// Links, and `@name` as the server reads mentions (services/chat/mentions.ts).
const TOKENS = /(https?:\/\/[^\s<>"]*[^\s<>".,:;!?'")\]])|(^|[^a-z0-9_.@-])@([a-z0-9_.-]{2,32})/gi;

export interface MessageTextProps {
	text: string;
	/** Usernames (lowercase) that are people here: only those are shown as mentions. */
	usernames: ReadonlySet<string>;
	me: string;
	/** Still being written: shows a cursor at its end. */
	streaming?: boolean;
}

/** A message's text with its links and mentions marked; everything else as typed. */
export const MessageText = memo(function MessageText({ text, usernames, me, streaming }: MessageTextProps) {
	const parts: ReactNode[] = [];
	let last = 0;
	for (const match of text.matchAll(TOKENS)) {
		const start = match.index ?? 0;
		if (match[1]) {
			parts.push(text.slice(last, start));
			parts.push(
				<Anchor key={start} href={match[1]} target="_blank" rel="noopener noreferrer" c="inherit" underline="always">
					{match[1]}
				</Anchor>,
			);
			last = start + match[1].length;
			continue;
		}
		const name = match[3].toLowerCase().replace(/[.-]+$/, "");
		if (!usernames.has(name)) continue;
		const at = start + match[2].length;
		parts.push(text.slice(last, at));
		parts.push(
			<span key={at} className={name === me.toLowerCase() ? `${classes.mention} ${classes.mentionMe}` : classes.mention}>
				{text.slice(at, at + 1 + name.length)}
			</span>,
		);
		last = at + 1 + name.length;
	}
	parts.push(text.slice(last));
	return <div className={streaming ? `${classes.text} ${classes.streaming}` : classes.text}>{parts}</div>;
});

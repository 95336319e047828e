const MENTION = /(?:^|[^a-z0-9_.@-])@([a-z0-9_.-]{3,32})/gi;

/** The distinct usernames `@mentioned` in a message, lowercased; e-mail addresses are not mentions. */
export function parseMentions(text: string): string[] {
	const names = new Set<string>();
	for (const match of text.matchAll(MENTION)) names.add(match[1].toLowerCase().replace(/[.-]+$/, ""));
	return [...names].filter((name) => name.length >= 3);
}

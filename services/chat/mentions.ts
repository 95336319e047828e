// Usernames have 3 to 32 characters; the assistant's is `ai`, the one shorter name there is.
const MENTION = /(?:^|[^a-z0-9_.@-])@([a-z0-9_.-]{2,32})/gi;

/** The distinct usernames `@mentioned` in a message, lowercased; e-mail addresses are not mentions. */
export function parseMentions(text: string): string[] {
	const names = new Set<string>();
	for (const match of text.matchAll(MENTION)) names.add(match[1].toLowerCase().replace(/[.-]+$/, ""));
	return [...names].filter((name) => name.length >= 2);
}

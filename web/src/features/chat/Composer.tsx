import { MAX_MESSAGE_LENGTH, type PublicUser } from "@colony/client";
import { Button, Combobox, Group, Text, Textarea, useCombobox } from "@mantine/core";
import { useEffect, useId, useRef, useState, type KeyboardEvent } from "react";

// An `@` starting a word, then what is typed of a username so far (as services/chat/mentions.ts reads mentions).
const MENTION_AT_CARET = /(?:^|[^a-z0-9_.@-])@([a-z0-9_.-]{0,32})$/i;
const MAX_SUGGESTIONS = 8;

/** The `@name` being typed just before the caret: where its `@` is and what follows it. */
export function mentionAt(text: string, caret: number): { start: number; query: string } | null {
	const match = MENTION_AT_CARET.exec(text.slice(0, caret));
	if (!match) return null;
	return { start: caret - match[1].length - 1, query: match[1] };
}

/** People whose username (first) or name starts with the query, then those containing it. */
export function suggestPeople(users: readonly PublicUser[], query: string, limit = MAX_SUGGESTIONS): PublicUser[] {
	const wanted = query.toLowerCase();
	const scored: { user: PublicUser; score: number }[] = [];
	for (const user of users) {
		const username = user.username.toLowerCase();
		const name = user.displayName.toLowerCase();
		let score = -1;
		if (username.startsWith(wanted)) score = 0;
		else if (name.split(/\s+/).some((word) => word.startsWith(wanted))) score = 1;
		else if (username.includes(wanted) || name.includes(wanted)) score = 2;
		if (score >= 0) scored.push({ user, score });
	}
	return scored
		.sort((a, b) => a.score - b.score || a.user.username.localeCompare(b.user.username))
		.slice(0, limit)
		.map((entry) => entry.user);
}

/** The text with the `@query` at `start` replaced by `@username ` and where the caret goes after it. */
export function insertMention(text: string, start: number, caret: number, username: string): { text: string; caret: number } {
	const before = text.slice(0, start);
	const after = text.slice(caret);
	const inserted = `@${username} `;
	return { text: before + inserted + (after.startsWith(" ") ? after.slice(1) : after), caret: before.length + inserted.length };
}

export interface ComposerProps {
	/** The textarea's accessible name, e.g. "Message #general". */
	label: string;
	placeholder?: string;
	/** The send button's text. */
	sendLabel?: string;
	/** The people `@` suggests. */
	people: readonly PublicUser[];
	/** Resolves once handed over (it may still wait in the outbox); the composer empties at once. */
	onSend(text: string): void;
	/** Called as the person types (throttled by the caller). */
	onTyping?(): void;
	autoFocus?: boolean;
}

/**
 * Writes a message: Enter sends, Shift+Enter starts a new line, `@` suggests people (arrow keys to choose,
 * Enter or Tab to insert, Escape to dismiss).
 */
export function Composer({ label, placeholder, sendLabel = "Send", people, onSend, onTyping, autoFocus }: ComposerProps) {
	const [value, setValue] = useState("");
	const [caret, setCaret] = useState(0);
	const [active, setActive] = useState(0);
	// The `@` whose suggestions were dismissed (Escape, a click elsewhere): they stay closed until another `@`.
	const [dismissed, setDismissed] = useState<number | null>(null);
	const textarea = useRef<HTMLTextAreaElement>(null);
	const listId = `mentions-${useId().replace(/[^a-zA-Z0-9_-]/g, "")}`;

	const mention = mentionAt(value, caret);
	const suggestions = mention && mention.start !== dismissed ? suggestPeople(people, mention.query) : [];
	const open = suggestions.length > 0;
	const combobox = useCombobox({
		opened: open,
		onOpenedChange: (opened) => {
			if (!opened && mention) setDismissed(mention.start);
		},
	});

	const queryKey = mention ? `${mention.start}:${mention.query}` : "";
	useEffect(() => setActive(0), [queryKey]);

	const moveCaret = (position: number) => {
		setCaret(position);
		requestAnimationFrame(() => {
			textarea.current?.focus();
			textarea.current?.setSelectionRange(position, position);
		});
	};

	const choose = (username: string) => {
		if (!mention) return;
		const next = insertMention(value, mention.start, caret, username);
		setValue(next.text);
		moveCaret(next.caret);
	};

	const tooLong = value.trim().length > MAX_MESSAGE_LENGTH;
	const send = () => {
		const text = value.trim();
		if (!text || tooLong) return;
		onSend(text);
		setValue("");
		setCaret(0);
		setDismissed(null);
		textarea.current?.focus();
	};

	const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
		if (event.nativeEvent.isComposing) return;
		if (open && mention) {
			if (event.key === "ArrowDown" || event.key === "ArrowUp") {
				event.preventDefault();
				const step = event.key === "ArrowDown" ? 1 : -1;
				setActive((current) => (current + step + suggestions.length) % suggestions.length);
				return;
			}
			if ((event.key === "Enter" && !event.shiftKey) || event.key === "Tab") {
				event.preventDefault();
				choose(suggestions[Math.min(active, suggestions.length - 1)].username);
				return;
			}
			if (event.key === "Escape") {
				event.preventDefault();
				setDismissed(mention.start);
				return;
			}
		}
		if (event.key === "Enter" && !event.shiftKey) {
			event.preventDefault();
			send();
		}
	};

	return (
		<div>
			<Group gap="xs" align="flex-end" wrap="nowrap">
				<Combobox store={combobox} onOptionSubmit={choose} position="top-start" withinPortal hideDetached={false}>
					<Combobox.Target withKeyboardNavigation={false} withAriaAttributes={false}>
						<Textarea
							ref={textarea}
							style={{ flex: 1 }}
							aria-label={label}
							placeholder={placeholder ?? label}
							autosize
							minRows={1}
							maxRows={8}
							value={value}
							error={tooLong ? `A message has at most ${MAX_MESSAGE_LENGTH} characters.` : undefined}
							autoFocus={autoFocus}
							aria-autocomplete="list"
							aria-controls={open ? listId : undefined}
							aria-activedescendant={open ? `${listId}-${active}` : undefined}
							onChange={(event) => {
								setValue(event.currentTarget.value);
								setCaret(event.currentTarget.selectionStart ?? event.currentTarget.value.length);
								if (event.currentTarget.value.trim()) onTyping?.();
							}}
							onSelect={(event) => setCaret(event.currentTarget.selectionStart ?? 0)}
							onKeyDown={onKeyDown}
						/>
					</Combobox.Target>
					<Combobox.Dropdown>
						<Combobox.Options id={listId} aria-label="People to mention">
							{suggestions.map((user, index) => (
								<Combobox.Option key={user.id} value={user.username} id={`${listId}-${index}`} selected={index === active} aria-selected={index === active}>
									<Text component="span" size="sm" fw={600}>
										{user.displayName}
									</Text>{" "}
									<Text component="span" size="sm">
										@{user.username}
									</Text>
								</Combobox.Option>
							))}
						</Combobox.Options>
					</Combobox.Dropdown>
				</Combobox>
				<Button onClick={send} disabled={!value.trim() || tooLong}>
					{sendLabel}
				</Button>
			</Group>
		</div>
	);
}

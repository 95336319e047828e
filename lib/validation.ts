/** Validation rules (fastest-validator) that several services share. */

/** A row id: the databases' INTEGER columns end at 2^31 - 1, so anything larger is refused, not sent to SQL. */
export const idParam = { type: "number", integer: true, positive: true, convert: true, max: 2_147_483_647 } as const;

/** Text kept as typed (names, topics, emoji): no control characters but tab and line breaks. */
export const PRINTABLE = /^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$/;

/**
 * Text shown as someone's name or a channel's: printable, and without the invisible characters that make one
 * name look like another: bidirectional overrides and isolates (`admin\u202Enimda` shows as "adminadmin"),
 * zero-width spaces and joiners, the byte-order mark and soft hyphen.
 */
export const PLAIN_TEXT = /^[^\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]*$/;

/** A reaction: one emoji (with its modifiers and joiners) or a `:shortcode:`. */
export const REACTION = /^(?::[a-z0-9_+-]{1,32}:|[0-9#*]\ufe0f?\u20e3|(?:\p{Extended_Pictographic}|\p{Regional_Indicator})(?:\p{Extended_Pictographic}|\p{Regional_Indicator}|\p{Emoji_Modifier}|\u200d|\ufe0f|\u20e3)*)$/u;

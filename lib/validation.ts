/** Validation rules (fastest-validator) that several services share. */

/** A row id: the databases' INTEGER columns end at 2^31 - 1, so anything larger is refused, not sent to SQL. */
export const idParam = { type: "number", integer: true, positive: true, convert: true, max: 2_147_483_647 } as const;

/** Text kept as typed (names, topics, emoji): no control characters but tab and line breaks. */
export const PRINTABLE = /^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$/;

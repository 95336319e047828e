const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
	["day", 86_400_000],
	["hour", 3_600_000],
	["minute", 60_000],
];

/** "5 minutes ago", "yesterday", or the date when older than a week. */
export function relativeTime(iso: string, now = Date.now()): string {
	const at = new Date(iso).getTime();
	const elapsed = now - at;
	if (elapsed < 60_000) return "just now";
	if (elapsed >= 7 * 86_400_000) return new Date(at).toLocaleDateString(undefined, { dateStyle: "medium" });
	const format = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
	const [unit, size] = UNITS.find(([, ms]) => elapsed >= ms)!;
	return format.format(-Math.floor(elapsed / size), unit);
}

/** The full date and time, for a tooltip or `title`. */
export function fullTime(iso: string): string {
	return new Date(iso).toLocaleString(undefined, { dateStyle: "full", timeStyle: "short" });
}

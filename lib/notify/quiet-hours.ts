/** `HH:MM` → minutes after midnight. */
export function minutesOf(clock: string): number {
	const [hours, minutes] = clock.split(":").map(Number);
	return hours * 60 + minutes;
}

/** The local wall-clock minute of the day at `time` in the IANA zone `timeZone`. */
export function localMinuteOfDay(time: number, timeZone: string): number {
	const parts = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date(time));
	const hour = Number(parts.find((part) => part.type === "hour")?.value ?? 0);
	const minute = Number(parts.find((part) => part.type === "minute")?.value ?? 0);
	return hour * 60 + minute;
}

export function isTimeZone(value: string): boolean {
	try {
		new Intl.DateTimeFormat("en-GB", { timeZone: value });
		return true;
	} catch {
		return false;
	}
}

/**
 * When the quiet hours that `time` falls in end, or null when it falls outside them. Hours may wrap midnight
 * (22:00–07:00). Counted in wall-clock minutes of the zone at `time`: across a daylight-saving change the end
 * may come an hour early or late.
 */
export function quietUntil(time: number, timeZone: string, start: string, end: string): number | null {
	const from = minutesOf(start);
	const to = minutesOf(end);
	if (from === to) return null;
	const now = localMinuteOfDay(time, timeZone);
	const inside = from < to ? now >= from && now < to : now >= from || now < to;
	if (!inside) return null;
	const minutesLeft = (to - now + 24 * 60) % (24 * 60);
	// To the start of the end minute: the seconds already gone in this minute are taken off.
	const intoMinute = time % 60_000;
	return time + minutesLeft * 60_000 - intoMinute;
}

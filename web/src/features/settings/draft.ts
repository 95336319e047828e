import type { PreferencesChange } from "@colony/client";
import type { ChannelChoice, NotificationPreferences, NotificationType } from "@colony/types/notifications";
import { NOTIFICATION_TYPES } from "@colony/types/notifications";

/** The server's zone for someone who never chose one. */
export const SERVER_DEFAULT_TIME_ZONE = "UTC";
export const DIGEST_WINDOW_MIN = 5;
export const DIGEST_WINDOW_MAX = 24 * 60;
const CLOCK_TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

export const CHANNELS: { key: keyof ChannelChoice; label: string }[] = [
	{ key: "inApp", label: "In app" },
	{ key: "email", label: "Email" },
	{ key: "push", label: "Push" },
];

/** The form as the person edits it. */
export interface PreferencesDraft {
	timeZone: string;
	quietHours: boolean;
	quietStart: string;
	quietEnd: string;
	digest: boolean;
	/** As typed: a number, or "" while the field is empty. */
	windowMinutes: number | string;
	channels: Record<NotificationType, ChannelChoice>;
}

export function browserTimeZone(): string | undefined {
	try {
		return Intl.DateTimeFormat().resolvedOptions().timeZone || undefined;
	} catch {
		return undefined;
	}
}

/**
 * The form for what the server has. A person still on the server's default zone gets the browser's, which a save
 * then stores: the server cannot know it, and quiet hours in UTC are rarely what anyone means.
 */
export function draftOf(saved: NotificationPreferences, browserZone = browserTimeZone()): PreferencesDraft {
	const timeZone = saved.timeZone === SERVER_DEFAULT_TIME_ZONE && browserZone ? browserZone : saved.timeZone;
	return {
		timeZone,
		quietHours: saved.quietHours !== null,
		quietStart: saved.quietHours?.start ?? "22:00",
		quietEnd: saved.quietHours?.end ?? "07:00",
		digest: saved.digest.enabled,
		windowMinutes: saved.digest.windowMinutes,
		channels: Object.fromEntries(NOTIFICATION_TYPES.map((type) => [type, { ...saved.channels[type] }])) as Record<NotificationType, ChannelChoice>,
	};
}

export type DraftErrors = Partial<Record<"quietStart" | "quietEnd" | "windowMinutes" | "timeZone", string>>;

/** What the server would refuse, said before asking it. */
export function draftErrors(draft: PreferencesDraft): DraftErrors {
	const errors: DraftErrors = {};
	if (!draft.timeZone) errors.timeZone = "Choose a time zone.";
	if (draft.quietHours) {
		if (!CLOCK_TIME.test(draft.quietStart)) errors.quietStart = "Enter a time as HH:MM, e.g. 22:00.";
		if (!CLOCK_TIME.test(draft.quietEnd)) errors.quietEnd = "Enter a time as HH:MM, e.g. 07:00.";
		if (!errors.quietStart && !errors.quietEnd && draft.quietStart === draft.quietEnd) errors.quietEnd = "The end is the same time as the start: there would be no quiet hours.";
	}
	const minutes = Number(draft.windowMinutes);
	if (draft.windowMinutes === "" || !Number.isInteger(minutes) || minutes < DIGEST_WINDOW_MIN || minutes > DIGEST_WINDOW_MAX) {
		errors.windowMinutes = `Enter whole minutes from ${DIGEST_WINDOW_MIN} to ${DIGEST_WINDOW_MAX}.`;
	}
	return errors;
}

/** Only what differs from what the server has: the server keeps the rest as it is. */
export function changesOf(saved: NotificationPreferences, draft: PreferencesDraft): PreferencesChange {
	const change: PreferencesChange = {};
	if (draft.timeZone !== saved.timeZone) change.timeZone = draft.timeZone;
	const quietHours = draft.quietHours ? { start: draft.quietStart, end: draft.quietEnd } : null;
	if (quietHours?.start !== saved.quietHours?.start || quietHours?.end !== saved.quietHours?.end) change.quietHours = quietHours;
	const digest: NonNullable<PreferencesChange["digest"]> = {};
	if (draft.digest !== saved.digest.enabled) digest.enabled = draft.digest;
	if (Number(draft.windowMinutes) !== saved.digest.windowMinutes) digest.windowMinutes = Number(draft.windowMinutes);
	if (Object.keys(digest).length > 0) change.digest = digest;
	const channels: NonNullable<PreferencesChange["channels"]> = {};
	for (const type of NOTIFICATION_TYPES) {
		for (const { key } of CHANNELS) {
			if (draft.channels[type][key] !== saved.channels[type][key]) channels[type] = { ...channels[type], [key]: draft.channels[type][key] };
		}
	}
	if (Object.keys(channels).length > 0) change.channels = channels;
	return change;
}

/** Every IANA zone this browser knows, with the ones in use even when it does not list them (UTC, say). */
export function timeZones(...inUse: (string | undefined)[]): string[] {
	const known = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
	const zones = new Set([...known, SERVER_DEFAULT_TIME_ZONE]);
	for (const zone of inUse) if (zone) zones.add(zone);
	return [...zones].sort((a, b) => a.localeCompare(b));
}

import type { ChannelChoice, NotificationPreferences, NotificationType } from "../../types/notifications";
import { NOTIFICATION_TYPES } from "../../types/notifications";
import type { PreferenceRow } from "./tables";

export const DEFAULT_TIMEZONE = "UTC";
export const DEFAULT_DIGEST_WINDOW_MINUTES = 60;
const EVERYWHERE: ChannelChoice = { inApp: true, email: true, push: true };

/** What a person who never changed anything gets: every type, on every channel. */
export function defaultPreferences(timezone = DEFAULT_TIMEZONE): NotificationPreferences {
	return {
		timeZone: timezone,
		quietHours: null,
		digest: { enabled: true, windowMinutes: DEFAULT_DIGEST_WINDOW_MINUTES },
		channels: Object.fromEntries(NOTIFICATION_TYPES.map((type) => [type, { ...EVERYWHERE }])) as Record<NotificationType, ChannelChoice>,
	};
}

export function preferencesOf(row: PreferenceRow | null | undefined): NotificationPreferences {
	const defaults = defaultPreferences(row?.timezone);
	if (!row) return defaults;
	const stored = JSON.parse(row.channels) as Partial<Record<NotificationType, Partial<ChannelChoice>>>;
	for (const type of NOTIFICATION_TYPES) defaults.channels[type] = { ...defaults.channels[type], ...stored[type] };
	return {
		...defaults,
		quietHours: row.quietStart && row.quietEnd ? { start: row.quietStart, end: row.quietEnd } : null,
		digest: { enabled: row.digestEnabled, windowMinutes: row.digestWindowMinutes },
	};
}

/** The row that stores `preferences` for `userId`. */
export function preferenceRow(userId: number, preferences: NotificationPreferences): Omit<PreferenceRow, "createdAt" | "updatedAt"> {
	return {
		userId,
		timezone: preferences.timeZone,
		quietStart: preferences.quietHours?.start ?? null,
		quietEnd: preferences.quietHours?.end ?? null,
		digestEnabled: preferences.digest.enabled,
		digestWindowMinutes: preferences.digest.windowMinutes,
		channels: JSON.stringify(preferences.channels),
	};
}

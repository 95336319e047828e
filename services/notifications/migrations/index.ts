import type { Migration } from "../../../lib/db/migrate";
import createNotifications from "./0001-create-notifications";

/** In order; a released migration is never edited, only followed by a new one. */
export const notificationsMigrations: Migration[] = [createNotifications];

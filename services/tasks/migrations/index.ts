import type { Migration } from "../../../lib/db/migrate";
import createTasks from "./0001-create-tasks";

/** In order; a released migration is never edited, only followed by a new one. */
export const tasksMigrations: Migration[] = [createTasks];

import type { Migration } from "../../mixins/db.mixin";
import createUsers from "./0001-create-users";

/** In order; a released migration is never edited, only followed by a new one. */
export const usersMigrations: Migration[] = [createUsers];

import type { Migration } from "../../../lib/db/migrate";
import createKnowledge from "./0001-create-knowledge";

/** In order; a released migration is never edited, only followed by a new one. */
export const knowledgeMigrations: Migration[] = [createKnowledge];

import type { Migration } from "../../../lib/db/migrate";
import createChat from "./0001-create-chat";
import sealedChannelNames from "./0002-sealed-channel-names";

/** In order; a released migration is never edited, only followed by a new one. */
export const chatMigrations: Migration[] = [createChat, sealedChannelNames];

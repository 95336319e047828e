import type { Migration } from "../../../lib/db/migrate";
import createUsers from "./0001-create-users";
import refreshTokenAccessIds from "./0002-refresh-token-access-ids";
import firstAdminAndRefreshReplays from "./0003-first-admin-and-refresh-replays";
import sessionRevocations from "./0004-session-revocations";
import loginFailures from "./0005-login-failures";
import aiPolicies from "./0006-ai-policies";

/** In order; a released migration is never edited, only followed by a new one. */
export const usersMigrations: Migration[] = [createUsers, refreshTokenAccessIds, firstAdminAndRefreshReplays, sessionRevocations, loginFailures, aiPolicies];

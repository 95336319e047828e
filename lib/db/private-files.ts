import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Makes a folder readable by this process's user only (0700), creating it when missing, and tightens one that
 * an older release created with the default mode.
 */
export function ensurePrivateDir(path: string): void {
	mkdirSync(path, { recursive: true, mode: 0o700 });
	chmodSync(path, 0o700);
}

/**
 * An embedded database file (and the WAL and shared-memory files SQLite creates beside it with the same mode),
 * readable by this process's user only: 0600, in a 0700 folder.
 */
export function ensurePrivateDatabaseFile(file: string): void {
	ensurePrivateDir(dirname(file));
	if (!existsSync(file)) closeSync(openSync(file, "a", 0o600));
	for (const path of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(path)) chmodSync(path, 0o600);
}

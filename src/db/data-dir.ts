// The data directory: created 0700, the database opened and checked, migrations applied. Shared
// by the server and the administrative commands (which do not take the server's lock).
import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, type Config } from "../config";
import type { Logger } from "../lib/logger";
import { fsCause } from "../lib/durable-file";
import { openDatabase, quickCheck } from "./client";
import { runMigrations } from "./migrate";

export const DB_FILE = "chat.db";

/**
 * Databases up to this size get PRAGMA quick_check at every start (it reads the whole file, ~2 ms
 * per MB); bigger ones only after an unclean stop (a WAL left behind), and at every `migrate`.
 */
const QUICK_CHECK_ALWAYS_BYTES = 64 * 1024 * 1024;

const fileSize = (path: string) => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

/** Creates the data directory (0700) or explains why it cannot. */
export function ensureDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    const exists = (error as NodeJS.ErrnoException).code === "EEXIST";
    throw new ConfigError(`cannot create the data directory ${dir}: ${exists ? "a file (not a directory) has that name" : fsCause(error)}`);
  }
}

/**
 * Opens the database, checks it, refuses one migrated by a newer binary, and applies pending
 * migrations. quickCheck "auto" (serve) checks small databases and any after an unclean stop.
 */
export function openDataDir(config: Config, log?: Logger, options: { quickCheck?: "always" | "auto" | "never"; quickCheckAlwaysBytes?: number } = {}) {
  ensureDataDir(config.dataDir);
  const path = join(config.dataDir, DB_FILE);
  const mode = options.quickCheck ?? "never";
  const small = fileSize(path) <= (options.quickCheckAlwaysBytes ?? QUICK_CHECK_ALWAYS_BYTES);
  const check = mode === "always" || (mode === "auto" && (small || fileSize(`${path}-wal`) > 0));
  const db = openDatabase(path, { synchronous: config.synchronous });
  try {
    if (check) {
      const t0 = performance.now();
      quickCheck(db.$client, path);
      log?.debug("quick_check ok", { ms: Math.round(performance.now() - t0) });
    }
    const applied = runMigrations(db, path);
    if (applied) log?.info("applied migrations", { count: applied });
    return db;
  } catch (error) {
    db.$client.close();
    throw error;
  }
}

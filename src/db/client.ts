// Opens the SQLite database with the pragmas every connection needs, and wraps it in Drizzle.
// The file is created 0600 before SQLite sees it (SQLite gives -wal and -shm the main file's mode),
// and a failure to open names the path and the cause instead of "unable to open database file".
import { Database } from "bun:sqlite";
import { accessSync, chmodSync, closeSync, constants, existsSync, fchmodSync, fstatSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { ConfigError } from "../config";
import { FS_CAUSES, fsCause, fsyncDirectory } from "../lib/durable-file";
import * as schema from "./schema";

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };

/** How long a statement waits for another connection's lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

export interface OpenOptions {
  synchronous?: "FULL" | "NORMAL";
  readonly?: boolean;
}

const CAUSES: Record<string, string> = {
  ...FS_CAUSES,
  SQLITE_NOTADB: "not a SQLite database (wrong file, or its header is damaged)",
  SQLITE_CORRUPT: "the database file is corrupt",
  SQLITE_READONLY: "the file or its directory is read-only",
  SQLITE_FULL: "no space left on the device",
  SQLITE_IOERR: "an I/O error",
};

/** An error that says which file could not be opened and why, for the exit-2 path of `serve`. */
export function describeOpenError(path: string, error: unknown, what = "the database"): ConfigError {
  if (error instanceof ConfigError) return error;
  const code = String((error as { code?: string }).code ?? "");
  const cause = CAUSES[code] ?? CAUSES[code.replace(/^(SQLITE_[A-Z]+)_.*$/, "$1")] ?? (error instanceof Error ? error.message : String(error));
  const hint = code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT") ? "; restore the latest backup" : "";
  return new ConfigError(`cannot open ${what} ${path}: ${cause}${code && !cause.includes(code) ? ` (${code})` : ""}${hint}`);
}

/** Creates the file 0600 (or tightens an older one) and checks what SQLite will need beside it. */
function prepareFile(path: string): void {
  const created = !existsSync(path);
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  try {
    if (fstatSync(fd).mode & 0o077) {
      try {
        fchmodSync(fd, 0o600);
      } catch {} // someone else's file we may still write: leave its mode alone
    }
  } finally {
    closeSync(fd);
  }
  // The new name must outlive a power loss along with the first commits SQLite will fsync into it.
  if (created) fsyncDirectory(dirname(path));
  // WAL mode creates <file>-wal and <file>-shm beside it; SQLite would only say "unable to open".
  try {
    accessSync(dirname(path), constants.W_OK);
  } catch (error) {
    throw new ConfigError(`cannot open the database ${path}: its directory ${dirname(path)} is not writable: ${fsCause(error)}; SQLite keeps its -wal and -shm files there`);
  }
  for (const extra of [`${path}-wal`, `${path}-shm`]) {
    if (existsSync(extra) && statSync(extra).mode & 0o077) {
      try {
        chmodSync(extra, 0o600);
      } catch {}
    }
  }
}

export function openDatabase(path: string, options: OpenOptions = {}): Db {
  try {
    if (!options.readonly) prepareFile(path);
    const client = new Database(path, { create: !options.readonly, readonly: options.readonly, strict: true });
    try {
      return configure(client, options);
    } catch (error) {
      client.close();
      throw error;
    }
  } catch (error) {
    throw describeOpenError(path, error);
  }
}

function configure(client: Database, options: OpenOptions): Db {
  // busy_timeout first, so the pragmas below wait for another process rather than fail.
  client.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  if (!options.readonly) client.run("PRAGMA journal_mode = WAL");
  client.run(`PRAGMA synchronous = ${options.synchronous ?? "FULL"}`);
  client.run("PRAGMA foreign_keys = ON");
  // After a checkpoint resets the WAL, truncate it back to this size so a burst doesn't leave a huge
  // file. Above the WAL the server's fallback checkpoint lets grow (16384 frames, 67.5 MB; see
  // server.ts): truncating is an fsync-heavy stall inside a commit, which steady traffic never pays.
  client.run("PRAGMA journal_size_limit = 100663296");
  client.run("PRAGMA temp_store = MEMORY");
  client.run("PRAGMA cache_size = -32000");
  return drizzle({ client, schema }) as Db;
}

/**
 * PRAGMA quick_check: every page and b-tree of the file, without the index-content cross-check of
 * integrity_check. A damaged file otherwise starts and then fails requests with 500s. It reads the
 * whole file (~0.7 s for 1M messages, 320 MB, warm cache), so the caller decides when it is worth it.
 */
export function quickCheck(client: Database, path: string): void {
  let verdict: string[];
  try {
    verdict = (client.query("PRAGMA quick_check(5)").all() as { quick_check: string }[]).map((r) => r.quick_check);
  } catch (error) {
    verdict = [error instanceof Error ? error.message : String(error)];
  }
  if (verdict.length === 1 && verdict[0] === "ok") return;
  throw new ConfigError(
    `the database ${path} is damaged (PRAGMA quick_check: ${verdict.join("; ")}). ` +
      "Stop here and restore the latest backup: replace chat.db with it and delete chat.db-wal and chat.db-shm.",
  );
}

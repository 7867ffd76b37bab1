// Opens the SQLite database with the pragmas every connection needs, and wraps it in Drizzle.
import { Database } from "bun:sqlite";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import * as schema from "./schema";

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };

/** How long a statement waits for another connection's lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

export interface OpenOptions {
  synchronous?: "FULL" | "NORMAL";
  readonly?: boolean;
}

export function openDatabase(path: string, options: OpenOptions = {}): Db {
  const client = new Database(path, { create: !options.readonly, readonly: options.readonly, strict: true });
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

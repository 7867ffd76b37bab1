// Opens the SQLite database with the pragmas every connection needs, and wraps it in Drizzle.
import { Database } from "bun:sqlite";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import * as schema from "./schema";

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };

export interface OpenOptions {
  synchronous?: "FULL" | "NORMAL";
  readonly?: boolean;
}

export function openDatabase(path: string, options: OpenOptions = {}): Db {
  const client = new Database(path, { create: !options.readonly, readonly: options.readonly, strict: true });
  // busy_timeout first, so the pragmas below wait for another process rather than fail.
  client.run("PRAGMA busy_timeout = 5000");
  if (!options.readonly) client.run("PRAGMA journal_mode = WAL");
  client.run(`PRAGMA synchronous = ${options.synchronous ?? "FULL"}`);
  client.run("PRAGMA foreign_keys = ON");
  client.run("PRAGMA temp_store = MEMORY");
  client.run("PRAGMA cache_size = -32000");
  return drizzle({ client, schema }) as Db;
}

// User rows by id, kept in memory for token checks on every authenticated request.
import type { Statement } from "bun:sqlite";
import { getTableColumns } from "drizzle-orm";
import type { Db } from "../../db/client";
import { externalChanges } from "../../db/external-changes";
import { users, type UserRow } from "../../db/schema";

// Runs on every authenticated request, so rows are kept in memory: dropped here when this process
// changes a user (forgetCachedUser) and all at once when another process commits (the CLI's
// reset-password bumps token_version), so a revoked token stops working at once. Misses use a
// plain prepared statement whose column aliases come from the Drizzle table.
const USER_SELECT = `SELECT ${Object.entries(getTableColumns(users))
  .map(([key, column]) => `"${column.name}" AS "${key}"`)
  .join(", ")} FROM users WHERE id = ?`;
const MAX_CACHED_USERS = 50_000;

interface UserCache {
  rows: Map<string, UserRow>;
  byId: Statement<UserRow, [string]>;
  version: number;
}
const userCaches = new WeakMap<Db, UserCache>();

function userCache(db: Db): UserCache {
  let cache = userCaches.get(db);
  if (!cache) {
    cache = { rows: new Map(), byId: db.$client.query<UserRow, [string]>(USER_SELECT), version: externalChanges(db).version() };
    userCaches.set(db, cache);
  }
  return cache;
}

export function userById(db: Db, id: string): UserRow | null {
  const cache = userCache(db);
  const version = externalChanges(db).version();
  if (version !== cache.version) {
    cache.rows.clear();
    cache.version = version;
  }
  const hit = cache.rows.get(id);
  if (hit) return hit;
  const row = cache.byId.get(id);
  if (!row) return null;
  if (cache.rows.size >= MAX_CACHED_USERS) cache.rows.clear();
  cache.rows.set(id, row);
  return row;
}

/** Every in-process write to a user row calls this, so the next request reads it afresh. */
export function forgetCachedUser(db: Db, id: string) {
  userCaches.get(db)?.rows.delete(id);
}

// UserStore over SQLite: synchronous, as the hot paths need (a token check reads a user per request).
import type { Statement } from "bun:sqlite";
import { asc, eq, getTableColumns, inArray, or, sql } from "drizzle-orm";
import type { SessionAccess, Taken, UserPatch, UserRow, UserStore } from "../../ports/stores";
import type { Db } from "../client";
import { users } from "../schema";

// A plain prepared statement (a cache miss on every new user's first request) whose column
// aliases come from the Drizzle table, so the row has the same shape as Drizzle's.
const USER_SELECT = `SELECT ${Object.entries(getTableColumns(users))
  .map(([key, column]) => `"${column.name}" AS "${key}"`)
  .join(", ")} FROM users WHERE id = ?`;

/** Escapes LIKE wildcards so a search for "a_b" means exactly that. */
const likePrefix = (q: string) => q.replace(/[\\%_]/g, (c) => "\\" + c) + "%";

export class SqliteUserStore implements UserStore {
  private readonly byIdQuery: Statement<UserRow, [string]>;
  private readonly accessQuery: Statement<SessionAccess, [string]>;

  constructor(private readonly db: Db) {
    this.byIdQuery = db.$client.query<UserRow, [string]>(USER_SELECT);
    this.accessQuery = db.$client.query<SessionAccess, [string]>(
      `SELECT id, token_version AS tokenVersion, disabled_at AS disabledAt FROM users
       WHERE id IN (SELECT value FROM json_each(?))`,
    );
  }

  byId(id: string): UserRow | null {
    const row = this.byIdQuery.get(id);
    // The raw statement hands SQLite's 0/1 through; the port promises a boolean.
    if (row) row.isBot = !!row.isBot;
    return row;
  }

  byLoginKey(key: string): UserRow | null {
    return this.db.select().from(users).where(or(eq(users.usernameKey, key), eq(users.emailKey, key))).get() ?? null;
  }

  taken(usernameKey: string | null, emailKey: string | null, exceptId?: string): Taken | null {
    if (usernameKey) {
      const row = this.db.select({ id: users.id }).from(users).where(eq(users.usernameKey, usernameKey)).get();
      if (row && row.id !== exceptId) return { taken: "username" };
    }
    if (emailKey) {
      const row = this.db.select({ id: users.id }).from(users).where(eq(users.emailKey, emailKey)).get();
      if (row && row.id !== exceptId) return { taken: "email" };
    }
    return null;
  }

  search(term: string | null, limit: number, offset: number): UserRow[] {
    const base = this.db.select().from(users);
    const filtered = term
      ? base.where(
          or(
            sql`${users.usernameKey} LIKE ${likePrefix(term)} ESCAPE '\\'`,
            sql`${users.fullNameKey} LIKE ${likePrefix(term)} ESCAPE '\\'`,
          ),
        )
      : base;
    return filtered.orderBy(asc(users.usernameKey)).limit(limit).offset(offset).all();
  }

  insert(row: UserRow): UserRow | Taken {
    // The check and the insert in one transaction: nothing interleaves on this connection, and
    // another process's insert meets the unique index.
    return this.db.transaction(() => this.taken(row.usernameKey, row.emailKey) ?? this.db.insert(users).values(row).returning().get());
  }

  update(id: string, patch: UserPatch): UserRow | Taken | null {
    return this.db.transaction(
      () =>
        this.taken(patch.usernameKey ?? null, patch.emailKey ?? null, id) ??
        this.db.update(users).set(patch).where(eq(users.id, id)).returning().get() ??
        null,
    );
  }

  setDisabled(id: string, disabled: boolean, at: number): boolean {
    const changed = this.db.$client
      .query<{ id: string }, [number | null, number, number, string]>(
        `UPDATE users SET disabled_at = ?1, token_version = token_version + ?2, updated_at = ?3
         WHERE id = ?4 AND (disabled_at IS NULL) = (?1 IS NOT NULL) RETURNING id`,
      )
      .get(disabled ? at : null, disabled ? 1 : 0, at, id);
    return changed !== null;
  }

  touchLastSeen(id: string, at: number): void {
    this.db.update(users).set({ lastSeenAt: at }).where(eq(users.id, id)).run();
  }

  sessionAccess(ids: string[]): SessionAccess[] {
    return this.accessQuery.all(JSON.stringify(ids));
  }

  existingIds(ids: string[]): string[] {
    if (ids.length === 0) return [];
    return this.db.select({ id: users.id }).from(users).where(inArray(users.id, ids)).all().map((r) => r.id);
  }
}

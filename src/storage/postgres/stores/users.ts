// UserStore over PostgreSQL. Uniqueness races between instances end on the unique indexes: an
// insert or update that loses one is answered as Taken, like the SQLite check-then-write.
import { and, asc, eq, inArray, ne, or, sql } from "drizzle-orm";
import type { SessionAccess, Taken, UserPatch, UserRow, UserStore } from "../../../ports/stores";
import { users } from "../schema";
import { byteOrder, likePrefix, stripNul, type PgHandle } from "./common";

/** Which unique index a failed write hit, when it was one of the users' keys. */
export function takenBy(error: unknown): Taken | null {
  const e = error as { errno?: string; code?: string; constraint?: string; message?: string; cause?: unknown };
  if (e?.cause) {
    const inner = takenBy(e.cause);
    if (inner) return inner;
  }
  if (e?.errno !== "23505" && e?.code !== "23505" && !/duplicate key/.test(e?.message ?? "")) return null;
  const where = `${e.constraint ?? ""} ${e.message ?? ""}`;
  if (where.includes("users_username_key")) return { taken: "username" };
  if (where.includes("users_email_key")) return { taken: "email" };
  return null;
}

export class PgUserStore implements UserStore {
  constructor(private readonly db: PgHandle) {}

  async byId(id: string): Promise<UserRow | null> {
    const [row] = await this.db.select().from(users).where(eq(users.id, stripNul(id)));
    return row ?? null;
  }

  async byLoginKey(key: string): Promise<UserRow | null> {
    const k = stripNul(key);
    const [row] = await this.db.select().from(users).where(or(eq(users.usernameKey, k), eq(users.emailKey, k))).limit(1);
    return row ?? null;
  }

  async taken(usernameKey: string | null, emailKey: string | null, exceptId?: string): Promise<Taken | null> {
    const other = (column: typeof users.usernameKey | typeof users.emailKey, key: string) =>
      this.db
        .select({ id: users.id })
        .from(users)
        .where(exceptId === undefined ? eq(column, stripNul(key)) : and(eq(column, stripNul(key)), ne(users.id, exceptId)))
        .limit(1);
    if (usernameKey && (await other(users.usernameKey, usernameKey)).length) return { taken: "username" };
    if (emailKey && (await other(users.emailKey, emailKey)).length) return { taken: "email" };
    return null;
  }

  async search(term: string | null, limit: number, offset: number): Promise<UserRow[]> {
    // U+0000 is stripped from lookups like from writes; a term of nothing else is still a term
    // (stripped to "", it would list everyone, where SQLite matches no one).
    const clean = term === null ? null : stripNul(term);
    if (clean === "" && term !== "") return [];
    const base = this.db.select().from(users);
    const prefix = clean ? likePrefix(clean) : null;
    const filtered = prefix
      ? base.where(
          or(sql`${byteOrder(users.usernameKey)} LIKE ${prefix} ESCAPE '\\'`, sql`${byteOrder(users.fullNameKey)} LIKE ${prefix} ESCAPE '\\'`),
        )
      : base;
    return filtered.orderBy(asc(byteOrder(users.usernameKey))).limit(limit).offset(offset);
  }

  async insert(row: UserRow): Promise<UserRow | Taken> {
    const clean = stripNul(row);
    // The check answers the common case with the right key (username first); the unique index
    // answers a race with another instance.
    const taken = await this.taken(clean.usernameKey, clean.emailKey);
    if (taken) return taken;
    try {
      const [inserted] = await this.db.insert(users).values(clean).returning();
      return inserted!;
    } catch (error) {
      const lost = takenBy(error);
      if (lost) return lost;
      throw error;
    }
  }

  async update(id: string, patch: UserPatch): Promise<UserRow | Taken | null> {
    const clean = stripNul(patch);
    const taken = await this.taken(clean.usernameKey ?? null, clean.emailKey ?? null, id);
    if (taken) return taken;
    try {
      // An empty patch still answers the row, as SQLite's does.
      const [row] = Object.keys(clean).length
        ? await this.db.update(users).set(clean).where(eq(users.id, id)).returning()
        : await this.db.select().from(users).where(eq(users.id, id));
      return row ?? null;
    } catch (error) {
      const lost = takenBy(error);
      if (lost) return lost;
      throw error;
    }
  }

  async setDisabled(id: string, disabled: boolean, at: number): Promise<boolean> {
    const changed = await this.db
      .update(users)
      .set({ disabledAt: disabled ? at : null, tokenVersion: sql`${users.tokenVersion} + ${disabled ? 1 : 0}`, updatedAt: at })
      .where(and(eq(users.id, id), disabled ? sql`${users.disabledAt} IS NULL` : sql`${users.disabledAt} IS NOT NULL`))
      .returning({ id: users.id });
    return changed.length > 0;
  }

  async touchLastSeen(id: string, at: number): Promise<void> {
    await this.db.update(users).set({ lastSeenAt: at }).where(eq(users.id, id));
  }

  async sessionAccess(ids: string[]): Promise<SessionAccess[]> {
    if (ids.length === 0) return [];
    return this.db
      .select({ id: users.id, tokenVersion: users.tokenVersion, disabledAt: users.disabledAt })
      .from(users)
      .where(inArray(users.id, stripNul(ids)));
  }

  async existingIds(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    return (await this.db.select({ id: users.id }).from(users).where(inArray(users.id, stripNul(ids)))).map((r) => r.id);
  }
}

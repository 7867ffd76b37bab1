// ApiTokenStore over SQLite.
import { and, desc, eq, inArray, isNull } from "drizzle-orm";
import type { ApiTokenListing, ApiTokenRow, ApiTokenStore } from "../../ports/stores";
import type { Db } from "../client";
import { apiTokens, users } from "../schema";

export class SqliteApiTokenStore implements ApiTokenStore {
  constructor(private readonly db: Db) {}

  insert(row: ApiTokenRow): ApiTokenRow {
    return this.db.insert(apiTokens).values(row).returning().get();
  }

  list(userId?: string): ApiTokenListing[] {
    return this.db
      .select({ token: apiTokens, username: users.username })
      .from(apiTokens)
      .innerJoin(users, eq(users.id, apiTokens.userId))
      .where(userId ? eq(apiTokens.userId, userId) : undefined)
      .orderBy(desc(apiTokens.createdAt), desc(apiTokens.id))
      .all()
      .map((r) => ({ ...r.token, username: r.username }));
  }

  byHash(hash: string): ApiTokenRow | null {
    return this.db.select().from(apiTokens).where(eq(apiTokens.hash, hash)).get() ?? null;
  }

  byIds(ids: string[]): ApiTokenRow[] {
    if (ids.length === 0) return [];
    return this.db.select().from(apiTokens).where(inArray(apiTokens.id, ids)).all();
  }

  revoke(id: string, at: number): { row: ApiTokenRow; revoked: boolean } | null {
    const revoked = this.db
      .update(apiTokens)
      .set({ revokedAt: at })
      .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
      .returning()
      .get();
    if (revoked) return { row: revoked, revoked: true };
    const row = this.db.select().from(apiTokens).where(eq(apiTokens.id, id)).get();
    return row ? { row, revoked: false } : null;
  }

  touch(id: string, at: number): void {
    this.db.update(apiTokens).set({ lastUsedAt: at }).where(eq(apiTokens.id, id)).run();
  }
}

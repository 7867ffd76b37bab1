// ApiTokenStore over PostgreSQL.
import { and, desc, eq, inArray, isNull } from "drizzle-orm";
import type { ApiTokenListing, ApiTokenRow, ApiTokenStore } from "../../../ports/stores";
import { apiTokens, users } from "../schema";
import { byteOrder, stripNul, type PgHandle } from "./common";

export class PgApiTokenStore implements ApiTokenStore {
  constructor(private readonly db: PgHandle) {}

  async insert(row: ApiTokenRow): Promise<ApiTokenRow> {
    const [inserted] = await this.db.insert(apiTokens).values(stripNul(row)).returning();
    return inserted!;
  }

  async list(userId?: string): Promise<ApiTokenListing[]> {
    const rows = await this.db
      .select({ token: apiTokens, username: users.username })
      .from(apiTokens)
      .innerJoin(users, eq(users.id, apiTokens.userId))
      .where(userId === undefined ? undefined : eq(apiTokens.userId, stripNul(userId)))
      .orderBy(desc(apiTokens.createdAt), desc(byteOrder(apiTokens.id)));
    return rows.map((r) => ({ ...r.token, username: r.username }));
  }

  async byHash(hash: string): Promise<ApiTokenRow | null> {
    const [row] = await this.db.select().from(apiTokens).where(eq(apiTokens.hash, stripNul(hash)));
    return row ?? null;
  }

  async byIds(ids: string[]): Promise<ApiTokenRow[]> {
    if (ids.length === 0) return [];
    return this.db.select().from(apiTokens).where(inArray(apiTokens.id, stripNul(ids)));
  }

  async revoke(id: string, at: number): Promise<{ row: ApiTokenRow; revoked: boolean } | null> {
    const [revoked] = await this.db
      .update(apiTokens)
      .set({ revokedAt: at })
      .where(and(eq(apiTokens.id, stripNul(id)), isNull(apiTokens.revokedAt)))
      .returning();
    if (revoked) return { row: revoked, revoked: true };
    const [row] = await this.db.select().from(apiTokens).where(eq(apiTokens.id, stripNul(id)));
    return row ? { row, revoked: false } : null;
  }

  async touch(id: string, at: number): Promise<void> {
    await this.db.update(apiTokens).set({ lastUsedAt: at }).where(eq(apiTokens.id, id));
  }
}

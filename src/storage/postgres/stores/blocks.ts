// BlockStore over PostgreSQL.
import { and, desc, eq } from "drizzle-orm";
import type { BlockStore, UserRow } from "../../../ports/stores";
import { blocks, users } from "../schema";
import { byteOrder, type PgHandle } from "./common";

export class PgBlockStore implements BlockStore {
  constructor(private readonly db: PgHandle) {}

  async blockersOf(userId: string): Promise<string[]> {
    return (await this.db.select({ id: blocks.blockerId }).from(blocks).where(eq(blocks.blockedId, userId))).map((r) => r.id);
  }

  async add(blockerId: string, blockedId: string, at: number): Promise<void> {
    await this.db.insert(blocks).values({ blockerId, blockedId, createdAt: at }).onConflictDoNothing();
  }

  async remove(blockerId: string, blockedId: string): Promise<void> {
    await this.db.delete(blocks).where(and(eq(blocks.blockerId, blockerId), eq(blocks.blockedId, blockedId)));
  }

  async blockedBy(blockerId: string, limit: number, offset: number): Promise<UserRow[]> {
    const rows = await this.db
      .select({ user: users })
      .from(blocks)
      .innerJoin(users, eq(users.id, blocks.blockedId))
      .where(eq(blocks.blockerId, blockerId))
      .orderBy(desc(blocks.createdAt), byteOrder(blocks.blockedId))
      .limit(limit)
      .offset(offset);
    return rows.map((r) => r.user);
  }
}

// BlockStore over SQLite.
import type { Statement } from "bun:sqlite";
import { asc, desc, eq } from "drizzle-orm";
import type { BlockStore, UserRow } from "../../ports/stores";
import type { Db } from "../client";
import { blocks, users } from "../schema";

export class SqliteBlockStore implements BlockStore {
  private readonly blockersQuery: Statement<{ blocker_id: string }, [string]>;

  constructor(private readonly db: Db) {
    this.blockersQuery = db.$client.query<{ blocker_id: string }, [string]>("SELECT blocker_id FROM blocks WHERE blocked_id = ?");
  }

  blockersOf(userId: string): string[] {
    return this.blockersQuery.all(userId).map((r) => r.blocker_id);
  }

  add(blockerId: string, blockedId: string, at: number): void {
    this.db.$client
      .query("INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
      .run(blockerId, blockedId, at);
  }

  remove(blockerId: string, blockedId: string): void {
    this.db.$client.query("DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?").run(blockerId, blockedId);
  }

  blockedBy(blockerId: string, limit: number, offset: number): UserRow[] {
    return this.db
      .select({ user: users })
      .from(blocks)
      .innerJoin(users, eq(users.id, blocks.blockedId))
      .where(eq(blocks.blockerId, blockerId))
      .orderBy(desc(blocks.createdAt), asc(blocks.blockedId))
      .limit(limit)
      .offset(offset)
      .all()
      .map((r) => r.user);
  }
}

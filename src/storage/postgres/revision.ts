// commitRevision (modules/changes/revision.ts) on PostgreSQL: a change other than a new message
// takes its conversation's next rev first, in its own transaction, and runs its writes with it; a
// change that changes nothing returns NO_CHANGE, the transaction rolls back and no rev is spent.
// The UPDATE takes the same row lock (NO KEY UPDATE) as the group commit, so messages and other
// changes of one conversation take their revs one at a time, across connections and instances. A
// change locks one conversation only, so it cannot deadlock against a batch that locks several.
import type { SQL } from "bun";
import { notFound } from "../../errors";
import { NO_CHANGE, type Revision } from "../../modules/changes/revision";
import type { PgDb } from "./client";

class Unchanged extends Error {}

/** `change` gets the transaction to write with. Throws 404 when the conversation does not exist. */
export async function commitRevisionPg<T>(
  db: PgDb,
  conversationId: string,
  options: { meta?: boolean },
  at: number,
  change: (tx: SQL, rev: number, at: number) => Promise<T | typeof NO_CHANGE>,
): Promise<Revision<T> | null> {
  try {
    return await db.$client.begin(async (tx) => {
      // In an UPDATE every expression sees the old row, so `rev + 1` is the new rev in both places.
      const [row] = await tx`
        UPDATE conversations SET rev = rev + 1, meta_rev = CASE WHEN ${options.meta === true} THEN rev + 1 ELSE meta_rev END, updated_at = ${at}
        WHERE id = ${conversationId} RETURNING rev`;
      if (!row) throw notFound("Conversation");
      const result = await change(tx, row.rev, at);
      if (result === NO_CHANGE) throw new Unchanged();
      return { rev: row.rev as number, at, result: result as T };
    });
  } catch (error) {
    if (error instanceof Unchanged) return null;
    throw error;
  }
}

// How a change other than a new message commits (edits, deletes, reactions, members, roles,
// renames): one IMMEDIATE transaction that takes the conversation's next rev first and runs the
// change's writes with it. When the change turns out to change nothing (the same reaction twice,
// an existing member added) it returns NO_CHANGE, the transaction rolls back, and no rev is spent:
// revs stay gap-free. The caller reports the committed change to the feed afterwards.
import type { Db } from "../../db/client";
import { notFound } from "../../errors";
import { now } from "../../lib/time";

export const NO_CHANGE = Symbol("no change");

export interface Revision<T> {
  rev: number;
  at: number;
  result: T;
}

class Unchanged extends Error {}

/**
 * `meta`: the change is to the conversation itself (name, members, roles), so /changes includes the
 * Conversation for clients behind it. Throws 404 when the conversation does not exist.
 */
export function commitRevision<T>(
  db: Db,
  conversationId: string,
  options: { meta?: boolean },
  change: (rev: number, at: number) => T | typeof NO_CHANGE,
): Revision<T> | null {
  const client = db.$client;
  const at = now();
  try {
    return client
      .transaction((): Revision<T> => {
        // In an UPDATE every expression sees the old row, so `rev + 1` is the new rev in both places.
        const row = client
          .query<{ rev: number }, [number, number, string]>(
            `UPDATE conversations SET rev = rev + 1, meta_rev = CASE WHEN ? THEN rev + 1 ELSE meta_rev END, updated_at = ?
             WHERE id = ? RETURNING rev`,
          )
          .get(options.meta ? 1 : 0, at, conversationId);
        if (!row) throw notFound("Conversation");
        const result = change(row.rev, at);
        if (result === NO_CHANGE) throw new Unchanged();
        return { rev: row.rev, at, result };
      })
      .immediate();
  } catch (error) {
    if (error instanceof Unchanged) return null;
    throw error;
  }
}

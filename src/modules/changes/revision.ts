// How a change other than a new message commits (edits, deletes, reactions, members, roles,
// renames): one IMMEDIATE transaction that takes the conversation's next rev first and runs the
// change's writes with it. When the change turns out to change nothing (the same reaction twice,
// an existing member added) it returns NO_CHANGE, the transaction rolls back, and no rev is spent:
// revs stay gap-free. The caller reports the committed change to the feed afterwards.
import type { Db } from "../../db/client";
import { notFound } from "../../errors";
import { now } from "../../lib/time";
import { NO_CHANGE, type Revision } from "../../ports/stores";
import { sqliteStoresOf } from "../storage-bridge";

export { NO_CHANGE, type Revision };

/**
 * `meta`: the change is to the conversation itself (name, members, roles), so /changes includes the
 * Conversation for clients behind it. Throws 404 when the conversation does not exist. The SQL is
 * ConversationStore.revise; the db stays here until the callers' changes take the stores it passes.
 */
export function commitRevision<T>(
  db: Db,
  conversationId: string,
  options: { meta?: boolean },
  change: (rev: number, at: number) => T | typeof NO_CHANGE,
): Revision<T> | null {
  const at = now();
  const revision = sqliteStoresOf(db).conversations.revise(conversationId, { meta: options.meta, at }, (_tx, rev) => change(rev, at));
  if (revision === "missing") throw notFound("Conversation");
  return revision;
}

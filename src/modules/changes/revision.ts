// How a change other than a new message commits (edits, deletes, reactions, members, roles,
// renames): one write transaction that takes the conversation's next rev first and runs the
// change's writes with it (ConversationStore.revise). When the change turns out to change nothing
// (the same reaction twice, an existing member added) it returns NO_CHANGE, the transaction rolls
// back, and no rev is spent: revs stay gap-free. The caller reports the committed change to the
// feed afterwards.
import { notFound } from "../../errors";
import { now } from "../../lib/time";
import { andThen, NO_CHANGE, type Awaitable, type Revision, type Storage, type Stores } from "../../ports/stores";

export { NO_CHANGE, type Revision };

/**
 * `meta`: the change is to the conversation itself (name, members, roles), so /changes includes the
 * Conversation for clients behind it. Throws 404 when the conversation does not exist. `change`
 * gets the stores of the transaction; it must stay synchronous when they are (SQLite: a
 * transaction cannot span an await), so it chains with `andThen`, never `await`.
 */
export function commitRevision<T>(
  { stores }: Storage,
  conversationId: string,
  options: { meta?: boolean },
  change: (tx: Stores, rev: number, at: number) => Awaitable<T | typeof NO_CHANGE>,
): Awaitable<Revision<T> | null> {
  const at = now();
  return andThen(stores.conversations.revise(conversationId, { meta: options.meta, at }, (tx, rev) => change(tx, rev, at)), (revision) => {
    if (revision === "missing") throw notFound("Conversation");
    return revision;
  });
}

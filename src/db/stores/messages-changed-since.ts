// Messages created or changed after a rev, in rev order (GET /changes, sync with revs, the recent
// window's catch-up), without an index entry per new message. A message never changed since its
// creation has rev = created_rev, and creation revs grow with seq: those are a seq suffix, read on
// the seq index. Only messages changed after creation (rev != created_rev) are in the partial index
// messages_changed_rev. The two streams are merged by (rev, seq).
import type { Database } from "bun:sqlite";
import { MESSAGE_COLUMNS } from "../message-sql";
import type { MessageRecord } from "../../ports/stores";

const byRevThenSeq = (a: MessageRecord, b: MessageRecord) => a.rev - b.rev || a.seq - b.seq;

export type ChangedSince = (conversationId: string, sinceRev: number, limit: number) => MessageRecord[];

export function createChangedSince(client: Database): ChangedSince {
  // created_rev of the first message at or after a seq (seqs have no gaps, but a probe must not
  // depend on that); legacy rows carry 0.
  const createdRevFrom = client.query<{ created_rev: number }, [string, number]>(
    "SELECT created_rev FROM messages WHERE conversation_id = ? AND seq >= ? ORDER BY seq LIMIT 1",
  );
  const lastSeq = client.query<{ seq: number }, [string]>("SELECT seq FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT 1");
  // `rev != created_rev` is the partial index's own condition, so SQLite uses it.
  const changed = client.query<MessageRecord, [string, number, number]>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND rev != created_rev AND rev > ? ORDER BY rev, seq LIMIT ?`,
  );
  const created = client.query<MessageRecord, [string, number, number]>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq > ? AND rev = created_rev ORDER BY seq LIMIT ?`,
  );

  /** True when the message at (or after) `seq` was created at or before `rev`. */
  const createdBy = (conversationId: string, seq: number, rev: number) => {
    const row = createdRevFrom.get(conversationId, seq);
    return row !== null && row.created_rev <= rev;
  };

  /**
   * The last seq created at or before `rev`: gallops down from the newest message (a reader is
   * usually a few messages behind), then bisects, so a reader far behind costs O(log n) probes.
   */
  const lastCreatedBy = (conversationId: string, rev: number): number => {
    const top = lastSeq.get(conversationId)?.seq ?? 0;
    if (top === 0 || createdBy(conversationId, top, rev)) return top;
    let hi = top; // created after rev
    let step = 1;
    let lo = Math.max(0, top - step);
    while (lo > 0 && !createdBy(conversationId, lo, rev)) {
      hi = lo;
      step *= 2;
      lo = Math.max(0, top - step);
    }
    // lo is created by rev (or 0), hi after it.
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (createdBy(conversationId, mid, rev)) lo = mid;
      else hi = mid;
    }
    return lo;
  };

  return (conversationId, sinceRev, limit) => {
    const rows = changed.all(conversationId, sinceRev, limit);
    const fresh = created.all(conversationId, lastCreatedBy(conversationId, sinceRev), limit);
    if (fresh.length === 0) return rows;
    if (rows.length === 0) return fresh;
    return rows.concat(fresh).sort(byRevThenSeq).slice(0, limit);
  };
}

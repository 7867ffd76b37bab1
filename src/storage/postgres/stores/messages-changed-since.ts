// Messages created or changed after a rev (GET /changes, sync with revs, the recent window's
// catch-up) on PostgreSQL, in one statement and without an index entry per new message, as on
// SQLite (db/stores/messages-changed-since.ts): a message never changed since its creation has
// rev = created_rev, and creation revs never decrease with seq, so those are a seq suffix found by
// bisecting the seq index; messages changed after creation are in the partial index
// messages_changed_rev. The two streams are merged by (rev, seq).
import { sql, type SQL } from "drizzle-orm";
import type { MessageRecord } from "../../../ports/stores";
import { messageColumnsPg, toMessageRecord } from "../message-sql";
import { rowsOf, stripNul, type PgHandle } from "./common";

/**
 * The bisection runs in the server (a recursive CTE, one index probe per step): `lo` is always a
 * seq created at or before the rev (or 0), `hi` one created after it (or past the newest). A probe
 * reads the first message at or after a seq, so it never depends on seqs having no gaps.
 */
const lastCreatedBy = (conversationId: string, sinceRev: number): SQL => sql`
  WITH RECURSIVE bisect(lo, hi) AS (
    SELECT 0, (SELECT seq + 1 FROM messages WHERE conversation_id = ${conversationId} ORDER BY seq DESC LIMIT 1)
    UNION ALL
    SELECT CASE WHEN probe.created THEN probe.mid ELSE probe.lo END, CASE WHEN probe.created THEN probe.hi ELSE probe.mid END
    FROM (
      SELECT b.lo, b.hi, (b.lo + b.hi) / 2 AS mid,
             coalesce((SELECT p.created_rev <= ${sinceRev} FROM messages p
                       WHERE p.conversation_id = ${conversationId} AND p.seq >= (b.lo + b.hi) / 2 ORDER BY p.seq LIMIT 1), false) AS created
      FROM bisect b WHERE b.hi - b.lo > 1 OFFSET 0
    ) probe
  )
  SELECT max(lo) AS lo FROM bisect`;

export async function changedSince(db: PgHandle, conversationId: string, sinceRev: number, limit: number): Promise<MessageRecord[]> {
  const id = stripNul(conversationId);
  const rows = await rowsOf<Record<string, unknown>>(
    db,
    // The boundary is a scalar subquery (computed once, first), so the seq index can range over it.
    sql`SELECT * FROM (
        (SELECT ${sql.raw(messageColumnsPg("m"))} FROM messages m
         WHERE m.conversation_id = ${id} AND m.rev != m.created_rev AND m.rev > ${sinceRev} ORDER BY m.rev, m.seq LIMIT ${limit})
        UNION ALL
        (SELECT ${sql.raw(messageColumnsPg("m"))} FROM messages m
         WHERE m.conversation_id = ${id} AND m.seq > (${lastCreatedBy(id, sinceRev)}) AND m.rev = m.created_rev ORDER BY m.seq LIMIT ${limit})
      ) changed ORDER BY rev, seq LIMIT ${limit}`,
  );
  return rows.map(toMessageRecord);
}

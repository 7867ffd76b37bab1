// The group commit on PostgreSQL: what modules/messages/commit.ts does on SQLite, with the same
// requests and results, async. A batch is one transaction that first locks its conversations' rows
// (SELECT ... FOR UPDATE, in id order), then numbers each message from the locked last_seq and rev:
// PostgreSQL sequences have gaps (a rolled-back nextval is gone), the row lock has none, and it
// serializes every writer of one conversation across connections and instances. Locking in one
// fixed order means two batches over the same conversations wait for each other, never deadlock.
// Idempotency is the unique index: INSERT ... ON CONFLICT DO NOTHING on (conversation, sender,
// client_msg_id) returns nothing for a retry, which then gets the stored message (created: false)
// and spends no seq. Failures as SQLite: a batch that fails is retried one request per transaction,
// so one bad request fails alone; a lost connection or a full disk fails the batch once.
import type { SQL } from "bun";
import { ATTACHMENT_CLAIM_FAILED } from "../../modules/attachments/sql";
import { REPLY_TO_GONE, type CommitResult, type Outcome, type SendRequest, type WriteFailure } from "../../modules/messages/commit";
import type { MessageRecord } from "../../modules/messages/message-view";
import type { PgDb } from "./client";
import { attachmentsJsonPg, messageColumnsPg, toMessageRecord } from "./message-sql";

/** SQLSTATE first (Bun puts it in errno; its own `code` is ERR_POSTGRES_SERVER_ERROR), else the code. */
export function pgFailureOf(error: unknown): WriteFailure {
  const e = error as { errno?: unknown; code?: unknown } | null;
  return {
    code: String(e?.errno ?? e?.code ?? ""),
    message: error instanceof Error ? error.message : String(error),
  };
}

/** Nothing was written and trying again later can succeed: a deadlock or serialization victim, a lock timeout. */
export const isPgBusyFailure = (f: WriteFailure) => f.code === "40P01" || f.code === "40001" || f.code === "55P03";

/**
 * The server or the way to it, not one request: connection exceptions (08), insufficient resources
 * such as a full disk (53), shutdown (57P), system/IO errors (58), and Bun's own connection errors.
 */
export const isPgConnectionFailure = (f: WriteFailure) =>
  /^(08|53|57P|58)/.test(f.code) || /CONNECTION|ECONN|ETIMEDOUT|EPIPE|ENOTFOUND/.test(f.code);

type Tx = SQL;
interface Head {
  seq: number;
  rev: number;
  moved: boolean;
}

const FIND_EXISTING = `SELECT ${messageColumnsPg("m")} FROM messages m WHERE m.conversation_id = $1 AND m.sender_id = $2 AND m.client_msg_id = $3`;
const BUMP_PARENT =
  `UPDATE messages SET reply_count = reply_count + 1, rev = $1, updated_at = $2 WHERE id = $3 AND conversation_id = $4 AND deleted_at IS NULL ` +
  `RETURNING ${messageColumnsPg()}`;
const RENDER_ATTACHMENTS = `SELECT ${attachmentsJsonPg("$1")} AS attachments`;

async function writeOne(tx: Tx, heads: Map<string, Head>, r: SendRequest, at: number): Promise<Outcome> {
  const head = heads.get(r.conversationId);
  if (!head) throw new Error("conversation vanished");
  const record: MessageRecord = {
    id: Bun.randomUUIDv7(),
    conversation_id: r.conversationId,
    seq: head.seq + 1,
    sender_id: r.senderId,
    recipient_id: r.recipientId,
    content: r.content,
    client_msg_id: r.clientMsgId,
    rev: head.rev + 1,
    edited_at: null,
    deleted_at: null,
    reply_to_id: r.replyToId ?? null,
    reply_count: 0,
    mentions: r.mentions?.length ? JSON.stringify(r.mentions) : null,
    created_at: at,
    updated_at: at,
  };
  const inserted = await tx`
    INSERT INTO messages (id, conversation_id, seq, sender_id, recipient_id, content, client_msg_id, rev, reply_to_id, mentions, created_at, updated_at)
    VALUES (${record.id}, ${record.conversation_id}, ${record.seq}, ${record.sender_id}, ${record.recipient_id}, ${record.content},
            ${record.client_msg_id}, ${record.rev}, ${record.reply_to_id}, ${record.mentions}, ${at}, ${at})
    ON CONFLICT (conversation_id, sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
    RETURNING id`;
  if (inserted.length === 0) {
    // A retry: the message committed before (by this batch, another connection or another instance).
    const [existing] = await tx.unsafe(FIND_EXISTING, [r.conversationId, r.senderId, r.clientMsgId]);
    if (!existing) throw new Error("client_msg_id conflict without a stored message");
    return { record: toMessageRecord(existing), created: false };
  }
  head.seq = record.seq;
  head.rev = record.rev;
  head.moved = true;
  if (r.attachmentIds?.length) {
    for (const [position, attachmentId] of r.attachmentIds.entries()) {
      const claimed = await tx`UPDATE attachments SET claimed_at = ${at} WHERE id = ${attachmentId} AND owner_id = ${r.senderId} AND claimed_at IS NULL RETURNING id`;
      if (claimed.length !== 1) {
        throw Object.assign(new Error(`attachment ${attachmentId} is gone or already used by another message`), { code: ATTACHMENT_CLAIM_FAILED });
      }
      await tx`INSERT INTO message_attachments (message_id, attachment_id, position) VALUES (${record.id}, ${attachmentId}, ${position})`;
    }
    record.attachments = (await tx.unsafe(RENDER_ATTACHMENTS, [record.id]))[0].attachments;
  }
  if (record.reply_to_id === null) return { record, created: true };
  // The parent changes in the same change (same rev); a parent deleted since prepareSend fails the reply alone.
  const [parent] = await tx.unsafe(BUMP_PARENT, [record.rev, at, record.reply_to_id, record.conversation_id]);
  if (!parent) throw new Error(REPLY_TO_GONE);
  return { record, created: true, parent: toMessageRecord(parent) };
}

/** One transaction: lock the conversations in id order, write every request, store the new heads. */
function writeBatch(sql: SQL, requests: SendRequest[], at: number): Promise<Outcome[]> {
  return sql.begin(async (tx) => {
    const ids = [...new Set(requests.map((r) => r.conversationId))];
    // The lock rows node sits above the sort, so rows are locked in this order in every batch.
    const rows: { id: string; last_seq: number; rev: number }[] = await tx`
      SELECT id, last_seq, rev FROM conversations WHERE id IN ${tx(ids)} ORDER BY id FOR UPDATE`;
    const heads = new Map(rows.map((row) => [row.id, { seq: row.last_seq, rev: row.rev, moved: false }]));
    const outcomes: Outcome[] = [];
    for (const r of requests) outcomes.push(await writeOne(tx, heads, r, at));
    for (const [id, head] of heads) {
      if (head.moved) await tx`UPDATE conversations SET last_seq = ${head.seq}, rev = ${head.rev}, last_activity_at = ${at}, updated_at = ${at} WHERE id = ${id}`;
    }
    return outcomes;
  });
}

/** The PostgreSQL committer: `(requests, at) => Promise<CommitResult>`, one outcome per request, in order. */
export function createPgCommitter(db: PgDb) {
  const sql = db.$client;
  return async (requests: SendRequest[], at: number): Promise<CommitResult> => {
    try {
      return { busy: false, outcomes: await writeBatch(sql, requests, at) };
    } catch (error) {
      const failure = pgFailureOf(error);
      if (isPgBusyFailure(failure)) return { busy: true };
      // A lost server fails every send alike: answered once, clients retry with their client_msg_id.
      if (isPgConnectionFailure(failure)) return { busy: false, failed: failure, outcomes: requests.map(() => ({ error: failure })) };
      if (requests.length === 1) return { busy: false, outcomes: [{ error: failure }] };
      // One bad request must not fail its neighbours: retry each alone.
      const outcomes: Outcome[] = [];
      for (const r of requests) {
        try {
          outcomes.push(...(await writeBatch(sql, [r], at)));
        } catch (error) {
          outcomes.push({ error: pgFailureOf(error) });
        }
      }
      return { busy: false, outcomes };
    }
  };
}

export type PgCommitter = ReturnType<typeof createPgCommitter>;

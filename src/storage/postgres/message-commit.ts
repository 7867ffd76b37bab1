// The group commit on PostgreSQL: what modules/messages/commit.ts does on SQLite, with the same
// requests and results, async. A batch is one transaction that first locks its conversations' rows
// (SELECT ... FOR NO KEY UPDATE, in id order), then numbers each message from the locked last_seq and rev:
// PostgreSQL sequences have gaps (a rolled-back nextval is gone), the row lock has none, and it
// serializes every writer of one conversation across connections and instances. Locking in one
// fixed order means two batches over the same conversations wait for each other, never deadlock.
// Idempotency is the unique index: the batch's one multi-row INSERT is ON CONFLICT DO NOTHING on
// (conversation, sender, client_msg_id); a row it skips is a retry, and the batch is written again
// with the stored messages looked up under the locks first (a retry gets its message, created:
// false, and spends no seq). Failures as SQLite: a batch that fails is retried one request per transaction,
// so one bad request fails alone; a lost connection or a full disk fails the batch once.
import type { SQL } from "bun";
import { ATTACHMENT_CLAIM_FAILED } from "../../modules/attachments/sql";
import { newMessageRecord, REPLY_TO_GONE, type CommitResult, type Outcome, type SendRequest, type WriteFailure } from "../../ports/message-commit";
import type { MessageRecord } from "../../modules/messages/message-view";
import type { PgDb } from "./client";
import { attachmentsJsonPg, messageColumnsPg, toMessageRecord } from "./message-sql";
import { stripNul } from "./stores/common";

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

const keyOf = (conversationId: string, senderId: string, clientMsgId: string) => JSON.stringify([conversationId, senderId, clientMsgId]);

const FIND_EXISTING =
  `SELECT ${messageColumnsPg("m")} FROM messages m JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(conversation_id, sender_id, client_msg_id) ` +
  `ON m.conversation_id = k.conversation_id AND m.sender_id = k.sender_id AND m.client_msg_id = k.client_msg_id`;
const BUMP_PARENT =
  `UPDATE messages SET reply_count = reply_count + 1, rev = $1, updated_at = $2 WHERE id = $3 AND conversation_id = $4 AND deleted_at IS NULL ` +
  `RETURNING ${messageColumnsPg()}`;
/** The parent's reactions as MessageStore.reactions orders them (emoji by first reaction, users by time). */
const PARENT_REACTIONS =
  `SELECT emoji, array_agg(user_id ORDER BY created_at, user_id COLLATE "C") AS user_ids FROM reactions WHERE message_id = $1 ` +
  `GROUP BY emoji ORDER BY min(created_at), emoji COLLATE "C"`;
const RENDER_ATTACHMENTS = `SELECT ${attachmentsJsonPg("$1")} AS attachments`;

/** Locks the batch's conversations in id order and returns their heads (last_seq, rev). */
async function lockConversations(tx: Tx, requests: SendRequest[]): Promise<Map<string, Head>> {
  const ids = [...new Set(requests.map((r) => r.conversationId))];
  // The lock rows node sits above the sort, so rows are locked in this order in every batch. NO KEY
  // UPDATE (what an UPDATE of non-key columns takes) serializes committers without blocking the
  // foreign-key checks (KEY SHARE) of rows inserted elsewhere that reference the conversation.
  const rows: { id: string; last_seq: number; rev: number }[] = await tx`
    SELECT id, last_seq, rev FROM conversations WHERE id IN ${tx(ids)} ORDER BY id FOR NO KEY UPDATE`;
  return new Map(rows.map((row) => [row.id, { seq: row.last_seq, rev: row.rev, moved: false }]));
}

/** The stored messages of the batch's client_msg_ids, by key. Under the locks, no writer can add one meanwhile. */
async function findExisting(tx: Tx, requests: SendRequest[]): Promise<Map<string, MessageRecord>> {
  const keyed = requests.filter((r) => r.clientMsgId !== null);
  if (!keyed.length) return new Map();
  const rows = await tx.unsafe(FIND_EXISTING, [keyed.map((r) => r.conversationId), keyed.map((r) => r.senderId), keyed.map((r) => r.clientMsgId)]);
  return new Map(rows.map((row: Record<string, unknown>) => [keyOf(row.conversation_id as string, row.sender_id as string, row.client_msg_id as string), toMessageRecord(row)]));
}

function newRecord(r: SendRequest, head: Head, at: number): MessageRecord {
  head.seq += 1;
  head.rev += 1;
  head.moved = true;
  return newMessageRecord(r, head.seq, head.rev, at);
}

/** Attachments and the reply's parent: per message, in order (a parent replied to twice ends at the later rev). */
async function completeOne(tx: Tx, r: SendRequest, record: MessageRecord, at: number): Promise<Outcome> {
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
  const reactions: { emoji: string; user_ids: string[] }[] = await tx.unsafe(PARENT_REACTIONS, [record.reply_to_id]);
  const parentReactions = reactions.map((r) => ({ emoji: r.emoji, userIds: r.user_ids }));
  return { record, created: true, parent: toMessageRecord(parent), parentReactions };
}

/** A client_msg_id of the batch was stored before: the batch is rolled back and written again with a lookup. */
const STORED_BEFORE = "client_msg_id stored before";
/** A client_msg_id stored by a writer that did not hold the conversation's lock (none should): retried alone. */
const RACED = "client_msg_id stored concurrently without the conversation lock";

/**
 * One transaction: lock the conversations in id order, number the new messages from the locked
 * heads, insert them in one statement, then attachments and reply parents, then store the new heads:
 * four round trips whatever the batch size. Retries of a stored client_msg_id are rare (a client
 * resending after a reconnect), so the batch first assumes there are none; when the insert skips a
 * row, it is rolled back and written again (`lookup`) with the stored messages looked up first.
 */
function writeBatch(sql: SQL, requests: SendRequest[], at: number, lookup = false): Promise<Outcome[]> {
  return sql.begin(async (tx) => {
    const heads = await lockConversations(tx, requests);
    const existing = lookup ? await findExisting(tx, requests) : new Map<string, MessageRecord>();
    const outcomes: Outcome[] = new Array(requests.length);
    const created: { index: number; record: MessageRecord }[] = [];
    const repeats: { index: number; key: string }[] = [];
    const inBatch = new Map<string, MessageRecord>();
    for (const [index, r] of requests.entries()) {
      const key = r.clientMsgId === null ? null : keyOf(r.conversationId, r.senderId, r.clientMsgId);
      const stored = key === null ? undefined : existing.get(key);
      if (stored) outcomes[index] = { record: stored, created: false };
      else if (key !== null && inBatch.has(key)) repeats.push({ index, key });
      else {
        const head = heads.get(r.conversationId);
        if (!head) throw new Error("conversation vanished");
        const record = newRecord(r, head, at);
        created.push({ index, record });
        if (key !== null) inBatch.set(key, record);
      }
    }
    if (created.length) {
      const rows = created.map((c) => c.record);
      const col = <K extends keyof MessageRecord>(k: K) => rows.map((m) => m[k]);
      // One statement for the whole batch, rows in request order (so triggers see them in seq order).
      const inserted = await tx`
        INSERT INTO messages (id, conversation_id, seq, sender_id, recipient_id, content, client_msg_id, rev, created_rev, reply_to_id, mentions, created_at, updated_at)
        SELECT id, conversation_id, seq, sender_id, recipient_id, content, client_msg_id, rev, rev, reply_to_id, mentions, ${at}, ${at}
        FROM unnest(${col("id")}::text[], ${col("conversation_id")}::text[], ${col("seq")}::int4[], ${col("sender_id")}::text[],
                    ${col("recipient_id")}::text[], ${col("content")}::text[], ${col("client_msg_id")}::text[], ${col("rev")}::int4[],
                    ${col("reply_to_id")}::text[], ${col("mentions")}::text[])
          AS t(id, conversation_id, seq, sender_id, recipient_id, content, client_msg_id, rev, reply_to_id, mentions)
        ON CONFLICT (conversation_id, sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
        RETURNING id`;
      if (inserted.length !== rows.length) throw new Error(lookup ? RACED : STORED_BEFORE);
      for (const { index, record } of created) outcomes[index] = await completeOne(tx, requests[index]!, record, at);
    }
    // The same client_msg_id twice in one batch: the later one gets the earlier one's message.
    for (const { index, key } of repeats) outcomes[index] = { record: { ...inBatch.get(key)! }, created: false };
    for (const [id, head] of heads) {
      if (head.moved) await tx`UPDATE conversations SET last_seq = ${head.seq}, rev = ${head.rev}, last_activity_at = ${at}, updated_at = ${at} WHERE id = ${id}`;
    }
    return outcomes;
  });
}

/**
 * PostgreSQL text cannot hold U+0000 (an insert with one fails the whole batch), so content and
 * client_msg_id lose it here, before the record is built: the ack, the live frame, history, sync,
 * search and webhooks all carry the stored text (SQLite keeps U+0000; README "PostgreSQL" says so).
 * Content keeps a visible character (normalizeContent requires one), so it never becomes empty.
 */
function withoutNul(r: SendRequest): SendRequest {
  if (!r.content.includes("\u0000") && !r.clientMsgId?.includes("\u0000")) return r;
  return { ...r, content: stripNul(r.content), clientMsgId: stripNul(r.clientMsgId) };
}

/** The PostgreSQL committer: `(requests, at) => Promise<CommitResult>`, one outcome per request, in order. */
export function createPgCommitter(db: PgDb) {
  const sql = db.$client;
  return async (sent: SendRequest[], at: number): Promise<CommitResult> => {
    const requests = sent.map(withoutNul);
    try {
      try {
        return { busy: false, outcomes: await writeBatch(sql, requests, at) };
      } catch (error) {
        if (pgFailureOf(error).message !== STORED_BEFORE) throw error;
        return { busy: false, outcomes: await writeBatch(sql, requests, at, true) };
      }
    } catch (error) {
      const failure = pgFailureOf(error);
      if (isPgBusyFailure(failure)) return { busy: true };
      // A lost server fails every send alike: answered once, clients retry with their client_msg_id.
      if (isPgConnectionFailure(failure)) return { busy: false, failed: failure, outcomes: requests.map(() => ({ error: failure })) };
      if (requests.length === 1 && failure.message !== RACED) return { busy: false, outcomes: [{ error: failure }] };
      // One bad request must not fail its neighbours: retry each alone.
      const outcomes: Outcome[] = [];
      for (const r of requests) {
        try {
          outcomes.push(...(await writeBatch(sql, [r], at, true)));
        } catch (error) {
          outcomes.push({ error: pgFailureOf(error) });
        }
      }
      return { busy: false, outcomes };
    }
  };
}

export type PgCommitter = ReturnType<typeof createPgCommitter>;

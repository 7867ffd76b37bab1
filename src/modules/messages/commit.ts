// The SQL of one group commit: every queued send in one IMMEDIATE transaction, each taking its
// conversation's next seq. Plain bun:sqlite and plain-data results, so the same code runs in the
// writer worker (src/modules/messages/writer-worker.ts, with --writer-thread true) and inline on
// the event loop.
import type { Database } from "bun:sqlite";
import { storageFaultOf } from "../../storage-faults";
import { ATTACHMENT_CLAIM_FAILED, attachmentsJson, CLAIM_ATTACHMENT, LINK_ATTACHMENT } from "../attachments/sql";
import { MESSAGE_COLUMNS, type MessageRecord } from "./message-view";

export interface SendRequest {
  conversationId: string;
  senderId: string;
  /** The other member of a direct conversation, null in a group. */
  recipientId: string | null;
  content: string;
  clientMsgId: string | null;
  /** A message of the same conversation this one answers (checked by prepareSend). */
  replyToId?: string | null;
  /** Ids of the members mentioned in the content. */
  mentions?: string[] | null;
  /** Attachments (issue 14): checked by prepareSend, claimed in the message's transaction. */
  attachmentIds?: string[];
}

/** A failure as plain data (it crosses the thread boundary): SQLite's code and message. */
export interface WriteFailure {
  code: string;
  message: string;
}

/** `parent`: the message replied to, after its reply_count grew in the same change. */
export type Outcome = { record: MessageRecord; created: boolean; parent?: MessageRecord } | { error: WriteFailure };

export type CommitResult =
  /** The write lock is held elsewhere: nothing was written, try again later. */
  | { busy: true }
  /**
   * One outcome per request, in order; `failed` is set when the whole batch failed with that error;
   * `foreign` when another connection committed since this one's previous transaction.
   */
  | { busy: false; outcomes: Outcome[]; failed?: WriteFailure; foreign?: boolean };


export const failureOf = (error: unknown): WriteFailure => ({
  code: String((error as { code?: unknown } | null)?.code ?? ""),
  message: error instanceof Error ? error.message : String(error),
});

/** The failure of a reply whose parent was deleted after prepareSend checked it (a 422 for the sender). */
export const REPLY_TO_GONE = "reply_to_id: the message replied to no longer exists";

export const isBusyFailure = (f: WriteFailure) => /SQLITE_BUSY|database is locked/i.test(`${f.code} ${f.message}`);
/** Errors of the disk, not of one request: retrying the batch one by one would not help. */
const isStorageFailure = (f: WriteFailure) => storageFaultOf(f.code, f.message) !== null;

/** The row of a new message at its seq and rev (shared with the PostgreSQL commit). */
export function newMessageRecord(r: SendRequest, seq: number, rev: number, at: number): MessageRecord {
  return {
    id: Bun.randomUUIDv7(),
    conversation_id: r.conversationId,
    seq,
    sender_id: r.senderId,
    recipient_id: r.recipientId,
    content: r.content,
    client_msg_id: r.clientMsgId,
    rev,
    edited_at: null,
    deleted_at: null,
    reply_to_id: r.replyToId ?? null,
    reply_count: 0,
    mentions: r.mentions?.length ? JSON.stringify(r.mentions) : null,
    created_at: at,
    updated_at: at,
  };
}

/** `watchForeign`: note other connections' commits (the writer thread; inline it costs a read for nothing). */
export function createCommitter(client: Database, watchForeign = false) {
  const findExisting = client.query<MessageRecord, [string, string, string]>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND sender_id = ? AND client_msg_id = ?`,
  );
  // A message is a change: it takes the next seq and the next rev of its conversation.
  const nextSeq = client.query<{ last_seq: number; rev: number }, [number, number, string]>(
    "UPDATE conversations SET last_seq = last_seq + 1, rev = rev + 1, last_activity_at = ?, updated_at = ? WHERE id = ? RETURNING last_seq, rev",
  );
  const insert = client.query<
    null,
    [string, string, number, string, string | null, string, string | null, number, string | null, string | null, number, number]
  >(
    // created_rev = rev: a new message is a seq suffix, not an entry of the changed-rev index.
    `INSERT INTO messages (id, conversation_id, seq, sender_id, recipient_id, content, client_msg_id, rev, created_rev, reply_to_id, mentions, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12)`,
  );
  // The parent of a reply changes in the same change (same rev): its reply_count grows.
  const bumpParent = client.query<MessageRecord, [number, number, string, string]>(
    `UPDATE messages SET reply_count = reply_count + 1, rev = ?, updated_at = ? WHERE id = ? AND conversation_id = ? AND deleted_at IS NULL
     RETURNING ${MESSAGE_COLUMNS}`,
  );
  // Attachments (issue 14).
  const claim = client.query<null, [number, string, string]>(CLAIM_ATTACHMENT);
  const link = client.query<null, [string, string, number]>(LINK_ATTACHMENT);
  const renderAttachments = client.query<{ attachments: string }, [string]>(`SELECT ${attachmentsJson("?1")} AS attachments`);
  const begin = client.prepare("BEGIN IMMEDIATE");
  const dataVersion = client.prepare<{ data_version: number }, []>("PRAGMA data_version");
  let lastVersion = -1;
  /** True when another connection committed since the last call (and on the first call). */
  const foreignCommits = () => {
    const version = dataVersion.get()!.data_version;
    const changed = version !== lastVersion;
    lastVersion = version;
    return changed;
  };
  const commit = client.prepare("COMMIT");
  const rollback = client.prepare("ROLLBACK");

  const writeOne = (r: SendRequest, at: number): { record: MessageRecord; created: boolean; parent?: MessageRecord } => {
    if (r.clientMsgId !== null) {
      const existing = findExisting.get(r.conversationId, r.senderId, r.clientMsgId);
      if (existing) return { record: { ...existing, attachments: renderAttachments.get(existing.id)!.attachments }, created: false };
    }
    const seq = nextSeq.get(at, at, r.conversationId);
    if (!seq) throw new Error("conversation vanished");
    const record = newMessageRecord(r, seq.last_seq, seq.rev, at);
    insert.run(
      record.id,
      record.conversation_id,
      record.seq,
      record.sender_id,
      record.recipient_id,
      record.content,
      record.client_msg_id,
      record.rev,
      record.reply_to_id,
      record.mentions,
      at,
      at,
    );
    // Attachments (issue 14): each taken once, by its uploader, in this transaction.
    if (r.attachmentIds?.length) {
      r.attachmentIds.forEach((attachmentId, position) => {
        if (claim.run(at, attachmentId, r.senderId).changes !== 1) {
          throw Object.assign(new Error(`attachment ${attachmentId} is gone or already used by another message`), { code: ATTACHMENT_CLAIM_FAILED });
        }
        link.run(record.id, attachmentId, position);
      });
      record.attachments = renderAttachments.get(record.id)!.attachments;
    }
    if (record.reply_to_id === null) return { record, created: true };
    // A parent deleted since prepareSend checked it: the reply fails alone (no half change).
    const parent = bumpParent.get(record.rev, at, record.reply_to_id, record.conversation_id);
    if (!parent) throw new Error(REPLY_TO_GONE);
    return { record, created: true, parent };
  };

  // IMMEDIATE: take the write lock at BEGIN, where a lock held elsewhere shows up as SQLITE_BUSY
  // before any work. The rollback is explicit and checked: a COMMIT that fails (disk full, I/O
  // error) may leave the transaction open, and the next batch must not commit this one's rows.
  let foreign = false;
  const transaction = <T>(fn: () => T): T => {
    begin.run();
    try {
      // Under the write lock: nothing but this transaction can commit until its COMMIT.
      if (watchForeign) foreign ||= foreignCommits();
      const result = fn();
      commit.run();
      return result;
    } catch (error) {
      if (client.inTransaction) rollback.run();
      throw error;
    }
  };

  const commitBatch = (requests: SendRequest[], at: number): CommitResult => {
    foreign = false;
    const result = attempt(requests, at);
    if (!result.busy && foreign) result.foreign = true;
    return result;
  };
  const attempt = (requests: SendRequest[], at: number): CommitResult => {
    try {
      return { busy: false, outcomes: transaction(() => requests.map((r) => writeOne(r, at))) };
    } catch (error) {
      const failure = failureOf(error);
      if (isBusyFailure(failure)) return { busy: true };
      // A full or failing disk fails every send alike: answered once, so clients retry with their
      // client_msg_id, instead of a second round of writes into a disk that just refused one.
      if (isStorageFailure(failure)) return { busy: false, failed: failure, outcomes: requests.map(() => ({ error: failure })) };
      // One bad request must not fail its neighbours: retry each alone.
      const outcomes = requests.map((r): Outcome => {
        try {
          return transaction(() => writeOne(r, at));
        } catch (error) {
          return { error: failureOf(error) };
        }
      });
      return { busy: false, outcomes };
    }
  };
  return Object.assign(commitBatch, { foreignCommits });
}

export type Committer = ReturnType<typeof createCommitter>;

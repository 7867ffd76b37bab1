// SQLite's MessageCommitter (ports/message-commit.ts): every queued send in one IMMEDIATE
// transaction, each taking its conversation's next seq. Plain bun:sqlite and plain-data results, so
// the same code runs in the writer worker (src/db/writer-worker.ts, with
// --writer-thread true) and inline on the event loop (sqliteCommitter).
import type { Database } from "bun:sqlite";
import { storageFaultOf } from "../../storage-faults";
import { ATTACHMENT_CLAIM_FAILED, attachmentsJson, CLAIM_ATTACHMENT, LINK_ATTACHMENT, MESSAGE_COLUMNS } from "../message-sql";
import {
  failureOf,
  newMessageRecord,
  REPLY_TO_GONE,
  type CommitResult,
  type MessageCommitter,
  type Outcome,
  type SendRequest,
  type WriteFailure,
} from "../../ports/message-commit";
import type { MessageRecord } from "../../ports/rows";
import type { Db } from "../client";

export const isBusyFailure = (f: WriteFailure) => /SQLITE_BUSY|database is locked/i.test(`${f.code} ${f.message}`);
/** Errors of the disk, not of one request: retrying the batch one by one would not help. */
const isStorageFailure = (f: WriteFailure) => storageFaultOf(f.code, f.message) !== null;

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

/** How long one attempt may wait for the write lock (inline: inside the event loop). */
export const WRITE_BUSY_TIMEOUT_MS = 20;

/** The group commit inline on the event loop, over the main connection. */
export function sqliteCommitter(db: Db): MessageCommitter {
  const client = db.$client;
  const commit = createCommitter(client);
  // The connection's own timeout, restored after each attempt (no import of client.ts: this file is
  // also bundled into the writer thread, which needs bun:sqlite only).
  const usual = Object.values(client.query("PRAGMA busy_timeout").get() as Record<string, number>)[0]!;
  // Prepared once: Database.run compiles its text on every call (two per commit).
  const shortWait = client.prepare(`PRAGMA busy_timeout = ${WRITE_BUSY_TIMEOUT_MS}`);
  const usualWait = client.prepare(`PRAGMA busy_timeout = ${usual}`);
  return {
    commit(requests, at, done) {
      // Short busy timeout: a lock held by another process is retried later, off the event loop.
      shortWait.run();
      let result: CommitResult;
      try {
        result = commit(requests, at);
      } finally {
        usualWait.run();
      }
      done(result);
    },
    close: async () => {},
  };
}

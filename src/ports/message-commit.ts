// The group commit as a port: the message writer (modules/messages/writer.ts) queues sends and hands
// each batch to a MessageCommitter, which writes it in one transaction where every message takes its
// conversation's next seq and rev. SQLite's is db/stores/message-commit.ts (inline, or on the writer
// thread); PostgreSQL's is storage/postgres/message-commit.ts (pgWriterBackend). Results are plain
// data: they cross a thread boundary as JSON.
import type { MessageRecord, ReactionTally } from "./rows";

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

/**
 * `parent`: the message replied to, after its reply_count grew in the same change; `parentReactions`
 * its reactions when the engine read them in the transaction (PostgreSQL: its update then goes out
 * with the reply, not after another round trip).
 */
export type Outcome = { record: MessageRecord; created: boolean; parent?: MessageRecord; parentReactions?: ReactionTally[] } | { error: WriteFailure };

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

/** The code of the error the commit throws when a claim fails (a race the send's checks could not see). */
export const ATTACHMENT_CLAIM_FAILED = "ATTACHMENT_CLAIM_FAILED";

/** The failure of a reply whose parent was deleted after prepareSend checked it (a 422 for the sender). */
export const REPLY_TO_GONE = "reply_to_id: the message replied to no longer exists";

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

export interface MessageCommitter {
  /** Writes the batch (or finds it busy) and calls `done` once, synchronously when it can. */
  commit(requests: SendRequest[], at: number, done: (result: CommitResult) => void): void;
  close(): Promise<void>;
}

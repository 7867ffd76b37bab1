// Group commit: sends that arrive in the same event-loop turn are written in one transaction,
// acknowledged after that commit, then published once each. With synchronous=FULL this costs
// one fsync per batch instead of one per message. Persist, then ack, then publish.
import { BUSY_TIMEOUT_MS, type Db } from "../../db/client";
import { ApiError } from "../../errors";
import { iso, now } from "../../lib/time";
import { conversationTopic, type Hub } from "../../ports/bus";
import { conversationStates } from "./conversation-state";
import { MESSAGE_COLUMNS, toMessageView, type MessageRecord } from "./service";
import type { MessageView } from "./model";

export interface SendRequest {
  conversationId: string;
  senderId: string;
  /** The other member of a direct conversation, null in a group. */
  recipientId: string | null;
  content: string;
  clientMsgId: string | null;
}

export interface SendResult {
  message: MessageView;
  /** False when the client_msg_id was seen before: the original is returned, nothing published. */
  created: boolean;
}

type Done = (error: unknown, result?: SendResult) => void;

export interface MessageWriter {
  /** Calls done synchronously right after the commit, before the message is published. */
  submit(request: SendRequest, done: Done): void;
  send(request: SendRequest): Promise<SendResult>;
  /** Writes whatever is queued now (used at shutdown). */
  flush(): void;
  readonly pending: number;
}

export interface WriterStats {
  batches: number;
  messages: number;
}

const MAX_BATCH = 512;
/** How long one attempt may wait for the write lock inside the event loop. */
const WRITE_BUSY_TIMEOUT_MS = 20;
/** How long sends wait for a lock held by another process before failing with 503. */
const BUSY_GIVE_UP_MS = 10_000;

const isBusy = (error: unknown) =>
  /SQLITE_BUSY|database is locked/i.test(`${(error as { code?: string })?.code ?? ""} ${(error as Error)?.message ?? error}`);
const busyError = () => new ApiError(503, "busy", "The database is busy, retry shortly", { "Retry-After": "1" });

export function createMessageWriter(db: Db, hub: Hub, stats: WriterStats = { batches: 0, messages: 0 }): MessageWriter {
  const client = db.$client;
  const states = conversationStates(db);
  const findExisting = client.query<MessageRecord, [string, string, string]>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND sender_id = ? AND client_msg_id = ?`,
  );
  const nextSeq = client.query<{ last_seq: number }, [number, number, string]>(
    "UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = ?, updated_at = ? WHERE id = ? RETURNING last_seq",
  );
  const insert = client.query<null, [string, string, number, string, string | null, string, string | null, number, number]>(
    `INSERT INTO messages (${MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );

  let queue: { request: SendRequest; done: Done }[] = [];
  let scheduled = false;

  const writeOne = (r: SendRequest, at: number): { record: MessageRecord; created: boolean } => {
    if (r.clientMsgId !== null) {
      const existing = findExisting.get(r.conversationId, r.senderId, r.clientMsgId);
      if (existing) return { record: existing, created: false };
    }
    const seq = nextSeq.get(at, at, r.conversationId);
    if (!seq) throw new Error("conversation vanished");
    const record: MessageRecord = {
      id: Bun.randomUUIDv7(),
      conversation_id: r.conversationId,
      seq: seq.last_seq,
      sender_id: r.senderId,
      recipient_id: r.recipientId,
      content: r.content,
      client_msg_id: r.clientMsgId,
      created_at: at,
      updated_at: at,
    };
    insert.run(record.id, record.conversation_id, record.seq, record.sender_id, record.recipient_id, record.content, record.client_msg_id, at, at);
    return { record, created: true };
  };

  // IMMEDIATE: take the write lock at BEGIN, where a lock held elsewhere shows up as SQLITE_BUSY
  // before any work (a deferred transaction upgrading to a write fails without waiting).
  const writeBatch = client.transaction((batch: SendRequest[], at: number) => batch.map((r) => writeOne(r, at))).immediate;
  const writeSingle = client.transaction((r: SendRequest, at: number) => writeOne(r, at)).immediate;

  // While another process holds the lock, the queue waits and retries off the event loop instead of
  // blocking it in busy_timeout or failing sends; only after BUSY_GIVE_UP_MS do sends fail with 503.
  let busySince = 0;
  let busyAttempts = 0;
  const withShortBusyTimeout = <T>(fn: () => T): T => {
    client.run(`PRAGMA busy_timeout = ${WRITE_BUSY_TIMEOUT_MS}`);
    try {
      return fn();
    } finally {
      client.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  };

  function retryLater() {
    scheduled = true;
    const delay = Math.min(100, 5 * 2 ** Math.min(busyAttempts++, 5));
    setTimeout(flush, delay);
  }

  function flush() {
    scheduled = false;
    while (queue.length) {
      const size = Math.min(queue.length, MAX_BATCH);
      const requests = queue.slice(0, size).map((b) => b.request);
      const at = now();
      let outcomes: ({ record: MessageRecord; created: boolean } | { error: unknown })[];
      try {
        outcomes = withShortBusyTimeout(() => writeBatch(requests, at));
      } catch (error) {
        if (isBusy(error)) {
          busySince ||= at;
          if (at - busySince < BUSY_GIVE_UP_MS) return retryLater();
          outcomes = requests.map(() => ({ error: busyError() }));
        } else {
          // One bad request must not fail its neighbours: retry each alone.
          outcomes = requests.map((r) => {
            try {
              return withShortBusyTimeout(() => writeSingle(r, at));
            } catch (error) {
              return { error: isBusy(error) ? busyError() : error };
            }
          });
        }
      }
      busySince = 0;
      busyAttempts = 0;
      const batch = queue.splice(0, size);
      stats.batches++;
      for (const o of outcomes) if ("record" in o && o.created) states.noteStored(o.record.conversation_id, o.record.seq);
      const published: MessageView[] = [];
      outcomes.forEach((o, i) => {
        const { done } = batch[i]!;
        if ("error" in o) return done(o.error);
        const view = toMessageView(o.record, false);
        stats.messages += o.created ? 1 : 0;
        try {
          done(null, { message: view, created: o.created });
        } catch {
          // A failing ack (closed socket) must not stop the rest of the batch.
        }
        if (o.created) published.push(view);
      });
      const timestamp = iso(at);
      for (const message of published) {
        hub.publish(conversationTopic(message.conversation_id), { type: "new_message", message, timestamp });
      }
    }
  }

  return {
    submit(request, done) {
      queue.push({ request, done });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    send(request) {
      return new Promise((resolve, reject) => this.submit(request, (err, result) => (err ? reject(err) : resolve(result!))));
    },
    flush,
    get pending() {
      return queue.length;
    },
  };
}

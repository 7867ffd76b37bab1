// Group commit: sends that arrive in the same event-loop turn are written in one transaction,
// acknowledged after that commit, then published once each. With synchronous=FULL this costs
// one fsync per batch instead of one per message. Persist, then ack, then publish.
import type { Db } from "../../db/client";
import { iso, now } from "../../lib/time";
import { conversationTopic, type Hub } from "../../realtime/hub";
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

export function createMessageWriter(db: Db, hub: Hub, stats: WriterStats = { batches: 0, messages: 0 }): MessageWriter {
  const client = db.$client;
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

  const writeBatch = client.transaction((batch: SendRequest[], at: number) => batch.map((r) => writeOne(r, at)));
  const writeSingle = client.transaction((r: SendRequest, at: number) => writeOne(r, at));

  function flush() {
    scheduled = false;
    while (queue.length) {
      const batch = queue.length > MAX_BATCH ? queue.splice(0, MAX_BATCH) : queue.splice(0);
      const at = now();
      let outcomes: ({ record: MessageRecord; created: boolean } | { error: unknown })[];
      try {
        outcomes = writeBatch(batch.map((b) => b.request), at);
      } catch {
        // One bad request must not fail its neighbours: retry each alone.
        outcomes = batch.map((b) => {
          try {
            return writeSingle(b.request, at);
          } catch (error) {
            return { error };
          }
        });
      }
      stats.batches++;
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
      for (const message of published) {
        hub.publish(conversationTopic(message.conversation_id), { type: "new_message", message, timestamp: iso(at) });
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

// Group commit: sends that arrive while the previous commit runs (or in the same event-loop turn)
// are written in one transaction, acknowledged after that commit, then published once each. With
// synchronous=FULL this costs one fsync per batch instead of one per message. Persist, then ack,
// then publish.
//
// The transaction itself is the storage's MessageCommitter (ports/message-commit.ts), chosen by the
// composition root: SQLite's runs inline or on the writer thread (db/writer-thread.ts), PostgreSQL's
// is asynchronous. Caches, acks and publishing stay here, after the committer reports.
import { ApiError, storageError, unprocessable } from "../../errors";
import { ATTACHMENT_CLAIM_FAILED } from "../attachments/sql";
import { storageFaultOf, type StorageFault } from "../../storage-faults";
import { now } from "../../lib/time";
import type { ChangeFeed } from "../../ports/changes";
import type { StorageHealth } from "../../storage-health";
import { REPLY_TO_GONE, type CommitResult, type MessageCommitter, type SendRequest, type WriteFailure } from "../../ports/message-commit";
import { andThen, type MessageStore } from "../../ports/stores";
import { toMessageView } from "./service";
import type { MessageRecord } from "./message-view";
import type { ReactionTally } from "../../ports/rows";
import type { MessageView } from "./model";

export type { SendRequest };

export interface SendResult {
  message: MessageView;
  /** False when the client_msg_id was seen before: the original is returned, nothing published. */
  created: boolean;
}

type Done = (error: unknown, result?: SendResult) => void;

export interface MessageWriter {
  /** Calls done right after the commit, before the message is published. */
  submit(request: SendRequest, done: Done): void;
  send(request: SendRequest): Promise<SendResult>;
  /** Writes whatever is queued, then stops the writer thread (used at shutdown). */
  close(): Promise<void>;
  readonly pending: number;
}

export interface WriterStats {
  batches: number;
  messages: number;
}

export interface WriterOptions {
  /** The storage's group commit (SQLite's inline or threaded, PostgreSQL's pgWriterBackend). */
  committer: MessageCommitter;
  /** Whether a failure means the write lock was held elsewhere (503 busy, retried); the engine knows. */
  isBusyFailure?: (failure: WriteFailure) => boolean;
  stats?: WriterStats;
  storage?: StorageHealth;
  /**
   * Called after each commit has been answered and before the next one starts: the moment the
   * write lock is surely free, for other small writes of the same connection's process (webhook
   * outcomes), which with the writer thread would otherwise find it held.
   */
  betweenCommits?: () => void;
}

const MAX_BATCH = 512;
/** How long sends wait for a lock held by another process before failing with 503. */
const BUSY_GIVE_UP_MS = 10_000;
/** How long close() waits for queued sends to be written. */
const DRAIN_MS = 3000;

const busyError = () => new ApiError(503, "busy", "The database is busy, retry shortly", { "Retry-After": "1" });

const asError = (failure: WriteFailure) => Object.assign(new Error(failure.message), { code: failure.code });
const faultOf = (failure: WriteFailure) => storageFaultOf(failure.code, failure.message);

/** The error a sender sees: an ApiError for what a client can act on, else an opaque 500. */
function errorFor(failure: WriteFailure, isBusyFailure: (failure: WriteFailure) => boolean): Error {
  if (isBusyFailure(failure)) return busyError();
  // Attachments (issue 14): two sends raced for one upload; this one lost.
  if (failure.code === ATTACHMENT_CLAIM_FAILED) return unprocessable("attachment_ids", failure.message);
  // The parent of a reply was deleted between prepareSend's check and the commit.
  if (failure.message.startsWith(REPLY_TO_GONE)) return unprocessable("reply_to_id", "the message replied to was deleted");
  const fault = faultOf(failure);
  return fault ? storageError(fault) : asError(failure);
}

export function createMessageWriter(messages: Pick<MessageStore, "reactions">, feed: ChangeFeed, options: WriterOptions): MessageWriter {
  const stats = options.stats ?? { batches: 0, messages: 0 };
  const storage = options.storage;
  const backend = options.committer;
  const isBusyFailure = options.isBusyFailure ?? (() => false);

  let queue: { request: SendRequest; done: Done }[] = [];
  let scheduled = false;
  let inFlight = false;
  let drained: (() => void) | null = null;

  // While another process holds the lock, the queue waits and retries later instead of blocking
  // in busy_timeout or failing sends; only after BUSY_GIVE_UP_MS do sends fail with 503.
  let busySince = 0;
  let busyAttempts = 0;
  function retryLater() {
    scheduled = true;
    const delay = Math.min(100, 5 * 2 ** Math.min(busyAttempts++, 5));
    setTimeout(flush, delay);
  }

  function flush() {
    scheduled = false;
    // A commit that completes later (a thread, a network) calls flush again; an inline one completes right here.
    while (!inFlight && !scheduled && queue.length) {
      if (storage?.writesHeld) return refuseHeld(storage);
      const batch = queue.splice(0, MAX_BATCH);
      const at = now();
      inFlight = true;
      let later = false;
      storage?.commitStarted();
      backend.commit(
        batch.map((b) => b.request),
        at,
        (result) => {
          inFlight = false;
          storage?.commitFinished();
          finish(batch, result, at);
          if (options.betweenCommits) {
            try {
              options.betweenCommits();
            } catch {
              // Its own failures are its own to report; the next batch must go.
            }
          }
          if (!inFlight && !scheduled && queue.length && later) flush();
          if (!inFlight && !queue.length) drained?.();
        },
      );
      later = true;
    }
  }

  function finish(batch: { request: SendRequest; done: Done }[], result: CommitResult, at: number) {
    if (result.busy) {
      busySince ||= at;
      if (now() - busySince < BUSY_GIVE_UP_MS) {
        queue = batch.concat(queue);
        return retryLater();
      }
      for (const { done } of batch) done(busyError());
      busySince = 0;
      busyAttempts = 0;
      return;
    }
    busySince = 0;
    busyAttempts = 0;
    stats.batches++;
    const { outcomes } = result;
    const failures = batch.map((_, i) => result.failed ?? (outcomes[i] && "error" in outcomes[i]! ? outcomes[i]!.error : null));
    const errors = failures.map((f) => (f ? errorFor(f, isBusyFailure) : null));
    noteStorage(failures, errors);
    const published: { view: MessageView; parent?: MessageRecord; parentReactions?: ReactionTally[] }[] = [];
    batch.forEach(({ done }, i) => {
      const o = outcomes[i];
      if (!o || !("record" in o)) return done(errors[i] ?? new Error("no outcome"));
      const view = toMessageView(o.record, false);
      stats.messages += o.created ? 1 : 0;
      try {
        done(null, { message: view, created: o.created });
      } catch {
        // A failing ack (closed socket) must not stop the rest of the batch.
      }
      if (o.created) published.push({ view, parent: o.parent, parentReactions: o.parentReactions });
    });
    // After every ack of the batch: the sender sees message_ack before its new_message. A reply's
    // parent changed in the same rev (reply_count): reported right after the reply.
    for (const { view, parent, parentReactions } of published) {
      feed.committed({ type: "message_created", message: view, at });
      if (parent) {
        const reactions = parentReactions ?? andThen(messages.reactions([parent.id]), (tallies) => tallies.get(parent.id) ?? []);
        feed.committed({ type: "message_updated", record: parent, reactions, at });
      }
    }
  }

  /** Held back after a full disk until the WAL is checkpointed (StorageHealth.writesHeld): refused unwritten. */
  function refuseHeld(storage: StorageHealth) {
    const batch = queue;
    queue = [];
    const fault = storage.failingFault!;
    storage.noteFailure(fault, storage.failingError, batch.length);
    for (const { done } of batch) done(storageError(fault));
    if (!inFlight) drained?.();
  }

  /** Storage faults fail sends (counted, health goes 503); any commit that went through heals it. */
  function noteStorage(failures: (WriteFailure | null)[], errors: (Error | null)[]) {
    if (!storage) return;
    let count = 0;
    let last: { fault: StorageFault; message: string } | undefined;
    errors.forEach((error, i) => {
      const fault = error instanceof ApiError ? faultOf(failures[i]!) : null;
      if (fault) {
        count++;
        last = { fault, message: failures[i]!.message };
      }
    });
    if (last) storage.noteFailure(last.fault, last.message, count);
    else if (errors.some((e) => e === null)) storage.noteSuccess();
  }

  return {
    submit(request, done) {
      queue.push({ request, done });
      if (!scheduled && !inFlight) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    send(request) {
      return new Promise((resolve, reject) => this.submit(request, (err, result) => (err ? reject(err) : resolve(result!))));
    },
    async close() {
      if (queue.length || inFlight) {
        const done = new Promise<void>((resolve) => (drained = resolve));
        if (!scheduled) flush();
        await Promise.race([done, Bun.sleep(DRAIN_MS)]);
      }
      await backend.close();
    },
    get pending() {
      return queue.length;
    },
  };
}

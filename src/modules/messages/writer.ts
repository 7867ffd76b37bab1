// Group commit: sends that arrive while the previous commit runs (or in the same event-loop turn)
// are written in one transaction, acknowledged after that commit, then published once each. With
// synchronous=FULL this costs one fsync per batch instead of one per message. Persist, then ack,
// then publish.
//
// The transaction itself (commit.ts) runs inline or, with `thread: true` (--writer-thread), on the
// writer thread (writer-worker.ts) with its own connection, so a slow or frozen disk delays sends
// but never the event loop: reads, /health, /metrics and sockets keep answering. Caches, acks and
// publishing stay here, after the worker reports what it committed. Messages to and from the
// thread are JSON text (Bun's structured clone was most of the hop's cost). Inline is the default:
// with one message in flight per sender every send is its own batch and pays a thread round trip
// (W2 at 1 in flight ~30 % lower with the thread, alternating runs on a shared 2-core machine);
// with batches (W2 at 16 in flight) it is within noise and W5 POST was higher with it.
import type { Db } from "../../db/client";
import { ApiError, storageError, unprocessable } from "../../errors";
import { ATTACHMENT_CLAIM_FAILED } from "../attachments/sql";
import { storageFaultOf, type StorageFault } from "../../storage-faults";
import { now } from "../../lib/time";
import type { ChangeFeed } from "../../ports/changes";
import type { StorageHealth } from "../../storage-health";
import { isBusyFailure, sqliteCommitter, WRITE_BUSY_TIMEOUT_MS } from "../../db/stores/message-commit";
import { REPLY_TO_GONE, type CommitResult, type MessageCommitter, type SendRequest, type WriteFailure } from "../../ports/message-commit";
import { externalChanges } from "../../db/external-changes";
import { toMessageView } from "./service";
import type { MessageRecord } from "./message-view";
import { loadReactions } from "./reaction-tallies";
import type { MessageView } from "./model";
import type { FromWorker, ToWorker } from "./writer-worker";

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
  /** Commit on the writer thread, or inline on the event loop (default). */
  thread?: boolean;
  /** The database file, for the writer thread's own connection. */
  path?: string;
  synchronous?: "FULL" | "NORMAL";
  stats?: WriterStats;
  storage?: StorageHealth;
  log?: { error(msg: string, fields?: Record<string, unknown>): void };
  /** Another database's group commit (PostgreSQL: pgWriterBackend); default SQLite's, inline or threaded. */
  committer?: MessageCommitter;
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
function errorFor(failure: WriteFailure): Error {
  if (isBusyFailure(failure)) return busyError();
  // Attachments (issue 14): two sends raced for one upload; this one lost.
  if (failure.code === ATTACHMENT_CLAIM_FAILED) return unprocessable("attachment_ids", failure.message);
  // The parent of a reply was deleted between prepareSend's check and the commit.
  if (failure.message.startsWith(REPLY_TO_GONE)) return unprocessable("reply_to_id", "the message replied to was deleted");
  const fault = faultOf(failure);
  return fault ? storageError(fault) : asError(failure);
}

function threadBackend(path: string, synchronous: "FULL" | "NORMAL", log: WriterOptions["log"], onForeign: () => void): MessageCommitter {
  let worker: Worker;
  let waiting: ((result: CommitResult) => void) | null = null;
  let closed: (() => void) | null = null;
  const start = () => {
    worker = new Worker(new URL("./writer-worker.ts", import.meta.url));
    worker.onmessage = (event: MessageEvent<string>) => {
      const m = JSON.parse(event.data) as FromWorker;
      if (m.type === "result") {
        const done = waiting!;
        waiting = null;
        done(m.result);
      } else if (m.type === "foreign") onForeign();
      else if (m.type === "closed") closed?.();
      else if (m.type === "failed") log?.error("writer thread failed", { error: m.error });
    };
    // A crash of the thread fails the batch it held (never acknowledged) and starts a new one.
    worker.onerror = (event) => {
      log?.error("writer thread crashed", { error: String(event.message ?? event) });
      const done = waiting;
      waiting = null;
      worker.terminate();
      start();
      if (done) {
        const failure = { code: "", message: "writer thread crashed" };
        done({ busy: false, failed: failure, outcomes: [] });
      }
    };
    post({ type: "open", path, synchronous, busyTimeoutMs: WRITE_BUSY_TIMEOUT_MS });
  };
  // JSON text, not objects: Bun's structured clone of a batch's records cost ~5x the JSON round
  // trip (a 16-record result: ~200 µs vs ~36 µs ping-pong on one core), most of the thread's toll.
  const post = (m: ToWorker) => worker.postMessage(JSON.stringify(m));
  start();
  return {
    commit(requests, at, done) {
      waiting = done;
      post({ type: "commit", requests, at });
    },
    close: () =>
      new Promise<void>((resolve) => {
        const finish = () => {
          clearTimeout(timer);
          worker.terminate();
          resolve();
        };
        const timer = setTimeout(finish, 1000);
        closed = finish;
        post({ type: "close" });
      }),
  };
}

export function createMessageWriter(db: Db, feed: ChangeFeed, options: WriterOptions = {}): MessageWriter {
  const stats = options.stats ?? { batches: 0, messages: 0 };
  const storage = options.storage;
  const changes = externalChanges(db);
  const threaded = Boolean(options.thread && options.path);
  const backend =
    options.committer ??
    (threaded ? threadBackend(options.path!, options.synchronous ?? "FULL", options.log, () => changes.reported()) : sqliteCommitter(db));

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
    // A thread commit completes later and calls flush again; an inline one completes right here.
    while (!inFlight && !scheduled && queue.length) {
      if (storage?.writesHeld) return refuseHeld(storage);
      const batch = queue.splice(0, MAX_BATCH);
      const at = now();
      inFlight = true;
      if (threaded) changes.writing(true);
      storage?.commitStarted();
      backend.commit(
        batch.map((b) => b.request),
        at,
        (result) => {
          inFlight = false;
          storage?.commitFinished();
          // Its own commit is accounted for in finish(); others' it reports (db/external-changes.ts).
          if (threaded) {
            changes.writing(false);
            if (!result.busy && result.foreign) changes.reported();
          }
          finish(batch, result, at);
          if (!inFlight && !scheduled && queue.length && threaded) flush();
          if (!inFlight && !queue.length) drained?.();
        },
      );
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
    const errors = failures.map((f) => (f ? errorFor(f) : null));
    noteStorage(failures, errors);
    const published: { view: MessageView; parent?: MessageRecord }[] = [];
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
      if (o.created) published.push({ view, parent: o.parent });
    });
    // After every ack of the batch: the sender sees message_ack before its new_message. A reply's
    // parent changed in the same rev (reply_count): reported right after the reply.
    for (const { view, parent } of published) {
      feed.committed({ type: "message_created", message: view, at });
      if (parent) {
        const reactions = loadReactions(db, [parent.id]).get(parent.id) ?? [];
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

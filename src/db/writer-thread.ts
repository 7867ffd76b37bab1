// SQLite's group commit (ports/message-commit.ts) as the message writer gets it: on the writer
// thread (writer-worker.ts, the default) with its own connection, so a slow or frozen disk delays
// sends but never the event loop: reads, /health, /metrics and sockets keep answering; or, with
// --writer-thread false, inline on the event loop over the main connection. Messages to and from
// the thread are JSON text (Bun's structured clone was most of the hop's cost). The thread costs
// 15–18 % of W2's sends/s when the server is confined to one core (the two threads share it) and
// 6–9 % on two cores (medians of alternating runs, 2026-12-01); a frozen disk no longer stops the server.
import type { CommitResult, MessageCommitter } from "../ports/message-commit";
import type { Db } from "./client";
import { externalChanges } from "./external-changes";
import { sqliteCommitter, WRITE_BUSY_TIMEOUT_MS } from "./stores/message-commit";
import type { FromWorker, ToWorker } from "./writer-worker";

export { isBusyFailure } from "./stores/message-commit";

export interface SqliteWriterOptions {
  /** Commit on the writer thread (the server's default), or inline on the event loop. */
  thread?: boolean;
  /** The database file, for the writer thread's own connection. */
  path?: string;
  synchronous?: "FULL" | "NORMAL";
  log?: { error(msg: string, fields?: Record<string, unknown>): void };
}

/** The committer for this connection: inline, or on the writer thread when asked (and a path is known). */
export function sqliteMessageCommitter(db: Db, options: SqliteWriterOptions = {}): MessageCommitter {
  if (!options.thread || !options.path) return sqliteCommitter(db);
  // The thread's commits are not this connection's: data_version would report them as another
  // process's. They are accounted for while in flight; others' commits the thread reports.
  const changes = externalChanges(db);
  // A thread that cannot even start (its code missing) would fail every send: commit inline instead.
  let inline: MessageCommitter | null = null;
  const unavailable = () => {
    options.log?.error("writer thread cannot start: committing on the event loop instead (as with --writer-thread false)");
    inline = sqliteCommitter(db);
  };
  const thread = threadBackend(options.path, options.synchronous ?? "FULL", options.log, () => changes.reported(), unavailable);
  return {
    commit(requests, at, done) {
      if (inline) return inline.commit(requests, at, done);
      changes.writing(true);
      thread.commit(requests, at, (result) => {
        changes.writing(false);
        if (!result.busy && result.foreign) changes.reported();
        done(result);
      });
    },
    close: () => (inline ? Promise.resolve() : thread.close()),
  };
}

/**
 * Where the worker's code is. In the compiled binary it is an embedded entrypoint (scripts/build.ts),
 * found by its path under the executable's root, the entrypoints' common folder (src/). There,
 * `new URL(…, import.meta.url)` was compiled to the build machine's absolute source path, which
 * exists only where the binary was built: anywhere else every send failed.
 */
const workerSpecifier = () => (Bun.isStandaloneExecutable ? "./db/writer-worker.ts" : new URL("./writer-worker.ts", import.meta.url).href);

/** Crashes before the thread ever answered, in a row, after which it is taken to be unable to start. */
const FAILED_STARTS = 3;

function threadBackend(
  path: string,
  synchronous: "FULL" | "NORMAL",
  log: SqliteWriterOptions["log"],
  onForeign: () => void,
  onUnavailable: () => void,
): MessageCommitter {
  let worker: Worker;
  let waiting: ((result: CommitResult) => void) | null = null;
  let closed: (() => void) | null = null;
  let answered = false;
  let failedStarts = 0;
  const start = () => {
    worker = new Worker(workerSpecifier());
    worker.onmessage = (event: MessageEvent<string>) => {
      answered = true;
      failedStarts = 0;
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
      if (!answered && ++failedStarts >= FAILED_STARTS) onUnavailable();
      else start();
      answered = false;
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


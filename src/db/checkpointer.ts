// WAL checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside a commit on
// the event loop and, with synchronous=FULL, fsyncs the database file there: that is what gives
// straightforward SQLite servers their latency spikes. Here the main connection only checkpoints
// as a fallback far past the usual size, and a worker runs PASSIVE checkpoints (which never block
// writers) whenever the WAL has grown.

// The worker is built from source text so the compiled binary needs no second entrypoint.
const WORKER_SOURCE = `
import { Database } from "bun:sqlite";
import { statSync } from "node:fs";
let db = null, path = "", threshold = 0, timer = null;
function tick() {
  try {
    const wal = statSync(path + "-wal", { throwIfNoEntry: false });
    if (wal && wal.size >= threshold) db.run("PRAGMA wal_checkpoint(PASSIVE)");
  } catch (error) {
    postMessage({ error: String(error) });
  }
}
onmessage = (event) => {
  const m = event.data;
  if (m.type === "start") {
    path = m.path; threshold = m.thresholdBytes;
    db = new Database(path);
    db.run("PRAGMA busy_timeout = 100");
    db.run("PRAGMA synchronous = " + m.synchronous);
    timer = setInterval(tick, m.intervalMs);
  } else if (m.type === "stop") {
    clearInterval(timer);
    try { db && db.close(); } catch {}
    postMessage({ stopped: true });
  }
};
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export interface CheckpointerOptions {
  intervalMs?: number;
  thresholdBytes?: number;
  synchronous?: "FULL" | "NORMAL";
  onError?: (message: string) => void;
}

export function startCheckpointer(dbPath: string, options: CheckpointerOptions = {}): Checkpointer {
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
  const worker = new Worker(url);
  (worker as unknown as { unref(): void }).unref(); // never keeps the process alive by itself
  worker.onmessage = (event) => {
    if (event.data?.error) options.onError?.(event.data.error);
  };
  worker.postMessage({
    type: "start",
    path: dbPath,
    intervalMs: options.intervalMs ?? 250,
    thresholdBytes: options.thresholdBytes ?? 4 * 1024 * 1024,
    synchronous: options.synchronous ?? "FULL",
  });
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          worker.terminate();
          URL.revokeObjectURL(url);
          resolve();
        };
        const timer = setTimeout(done, 1000);
        worker.onmessage = (event) => {
          if (event.data?.stopped) {
            clearTimeout(timer);
            done();
          }
        };
        worker.postMessage({ type: "stop" });
      }),
  };
}

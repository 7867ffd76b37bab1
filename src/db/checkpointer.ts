// WAL checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside a commit on
// the event loop and, with synchronous=FULL, fsyncs the database file there: that is what gives
// straightforward SQLite servers their latency spikes. Here the main connection only checkpoints
// as a fallback far past the usual size, and a worker runs PASSIVE checkpoints (which never block
// writers) once per interval.
//
// One PASSIVE pass copies the frames committed before it started; commits made during it stay
// behind, so the WAL is never fully copied and never restarts: it grows (every commit then appends,
// which costs the fsync a metadata update) until the fallback checkpoint and a truncation stall the
// event loop for tens of milliseconds. So each tick repeats the pass until one finds nothing new:
// the WAL is then fully copied and the next commit starts it again from the beginning, overwriting
// the same file. Ticks are a second apart because each one's writes to the database file and its
// fsync delay the commits that fsync beside it; fewer, larger checkpoints touch each hot page once.

// The worker is built from source text so the compiled binary needs no second entrypoint.
const WORKER_SOURCE = `
import { Database } from "bun:sqlite";
let db = null, checkpoint = null, timer = null;
const MAX_PASSES = 32;
function tick() {
  try {
    let previous = -1;
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const r = checkpoint.get();
      // busy: a checkpoint elsewhere; log > checkpointed: a reader still needs older frames.
      if (r.busy || r.log !== r.checkpointed || r.log === previous) break;
      previous = r.log;
    }
  } catch (error) {
    postMessage({ error: String(error) });
  }
}
onmessage = (event) => {
  const m = event.data;
  if (m.type === "start") {
    db = new Database(m.path);
    db.run("PRAGMA busy_timeout = 100");
    db.run("PRAGMA synchronous = " + m.synchronous);
    checkpoint = db.query("PRAGMA wal_checkpoint(PASSIVE)");
    timer = setInterval(tick, m.intervalMs);
  } else if (m.type === "stop") {
    clearInterval(timer);
    try { checkpoint && checkpoint.finalize(); db && db.close(); } catch {}
    postMessage({ stopped: true });
  }
};
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export interface CheckpointerOptions {
  intervalMs?: number;
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
    intervalMs: options.intervalMs ?? 1000,
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

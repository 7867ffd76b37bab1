// WAL checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside a commit on
// the event loop and, with synchronous=FULL, fsyncs the database file there: that is what gives
// straightforward SQLite servers their latency spikes. Here the main connection only checkpoints
// as a fallback far past the usual size, and a worker runs PASSIVE checkpoints (which never block
// writers) once per interval.
//
// One PASSIVE pass copies the frames committed before it started; commits made during it stay
// behind, so the WAL is never fully copied and never restarts: it grows (every commit then appends,
// which costs the fsync a metadata update) until the fallback checkpoint stalls the event loop.
// So each tick repeats the pass until the WAL is fully copied; the next commit then starts it
// again from the beginning, overwriting the same file. Two races spoil that: the restart needs, for
// an instant, every read-mark lock, which a checkpoint pass also takes (so "fully copied" is read
// from the wal-index header, not asked of another pass), and a commit that had already begun when
// the copy finished appends without restarting (so the tick watches the header until the WAL
// restarts, or copies again if a commit appended instead). Checked with the W1 bench: restarts
// went from most ticks failing, and the WAL file growing to the fallback's 67 MB, to every tick.
// Ticks are a second apart because each one's writes to the database file and its fsync delay the
// commits that fsync beside it; fewer, larger checkpoints touch each hot page once.

import { closeSync, openSync, readSync } from "node:fs";

// The worker is built from source text so the compiled binary needs no second entrypoint.
const WORKER_SOURCE = `
import { Database } from "bun:sqlite";
import { closeSync, openSync, readSync, statSync, statfsSync } from "node:fs";
let db = null, checkpoint = null, truncate = null, timer = null, dbPath = "", shmPath = "", shm = -1, failing = "";
let intervalMs = 1000;
const MAX_PASSES = 32;
const MIN_TICK_MS = 20;
const FAST_WAL_BYTES_PER_MS = 64 * 1024; // 64 MB/s: faster than one core commits 2 KB messages
const RESTART_WATCH_MS = 20;
const header = new Uint8Array(100), words = new Uint32Array(header.buffer);
// Reads the wal-index header at the start of the -shm file (sqlite.org/walformat.html), which a
// plain read does without any lock. Native byte order: mxFrame, the last committed frame, is
// words[4]; salt-1, which changes when the WAL restarts, words[8]; nBackfill, the last frame
// copied, words[24]. False when there is no wal-index (no WAL to copy).
function readWalIndex() {
  try {
    if (shm < 0) shm = openSync(shmPath, "r");
    return readSync(shm, header, 0, 100, 0) === 100;
  } catch {
    return false;
  }
}
// Under steady load PASSIVE passes may not catch up, and the WAL grows (up to the fallback's
// 64 MB, at up to ~25 MB/s with one serial sender) and keeps that size (journal_size_limit is
// above it). On a small disk it then takes the last free space, and the checkpoint, which must grow
// chat.db by up to the WAL's size, can never run again: nothing can be written until an operator
// frees more than the WAL holds (the full-size stress run's "no recovery"). So each tick measures
// the room left and how fast the WAL grows: when the free space would not hold the WAL as it may be
// by the next tick, once as WAL and once as chat.db's growth, or while checkpoints fail, the tick is
// one TRUNCATE checkpoint (it holds new writers off until the WAL is copied) that also gives the WAL
// file's space back; and the next tick comes before a fast-growing WAL could eat a quarter of the
// free space. On a roomy disk (> 256 MB free) nothing changes: PASSIVE once a second, and the WAL
// keeps its size.
let lastWal = 0, lastAt = 0, lastPerMs = 0;
const walSize = () => {
  try {
    return statSync(dbPath + "-wal").size;
  } catch {
    return 0;
  }
};
function room() {
  const at = performance.now();
  try {
    const wal = walSize();
    // Growth since the end of the last tick; a quiet tick halves the estimate rather than forget it.
    const perMs = Math.max(lastAt ? Math.max(0, wal - lastWal) / (at - lastAt) : 0, lastPerMs / 2);
    lastPerMs = perMs;
    const fs = statfsSync(dbPath + "-wal");
    const free = fs.bavail * fs.bsize;
    // Paced for the fastest growth seen (a restarted estimate must not leave a second unwatched).
    const nextMs = Math.max(MIN_TICK_MS, Math.min(intervalMs, free / 4 / Math.max(perMs, FAST_WAL_BYTES_PER_MS)));
    return { short: wal > 0 && free < 2 * (wal + perMs * nextMs), nextMs };
  } catch {
    return { short: false, nextMs: intervalMs };
  }
}
// A failing checkpoint (full disk, I/O error) fails every tick: reported when it starts failing
// (or fails differently) and when it works again, not once a tick.
function tick() {
  const { short, nextMs } = room();
  try {
    if (!(failing || short) || truncate.get().busy) pass();
    if (failing) postMessage({ recovered: failing });
    failing = "";
  } catch (error) {
    if (String(error) !== failing) postMessage({ error: String(error) });
    failing = String(error);
  }
  lastWal = walSize();
  lastAt = performance.now();
  timer = setTimeout(tick, failing ? intervalMs : nextMs);
}
function pass() {
  for (let round = 0; round < MAX_PASSES; round++) {
    const r = checkpoint.get();
    if (r.busy) return; // a checkpoint elsewhere
    if (r.log !== r.checkpointed) {
      // A read still open on an older snapshot kept its frames from being copied: usually a
      // statement about to finish, so wait a moment and go again rather than give up the tick.
      Bun.sleepSync(1);
      continue;
    }
    if (!readWalIndex()) return;
    if (words[4] !== words[24]) continue; // commits arrived during the pass
    const copiedTo = words[4], salt = words[8];
    let appended = false;
    for (let waited = 0; waited < RESTART_WATCH_MS && !appended; waited++) {
      Bun.sleepSync(1);
      if (!readWalIndex() || words[8] !== salt) return; // restarted
      appended = words[4] !== copiedTo;
    }
    if (!appended) return; // idle: the next commit restarts it
  }
}
onmessage = (event) => {
  const m = event.data;
  if (m.type === "start") {
    db = new Database(m.path);
    dbPath = m.path;
    shmPath = m.path + "-shm";
    db.run("PRAGMA busy_timeout = 100");
    db.run("PRAGMA synchronous = " + m.synchronous);
    checkpoint = db.query("PRAGMA wal_checkpoint(PASSIVE)");
    truncate = db.query("PRAGMA wal_checkpoint(TRUNCATE)");
    intervalMs = m.intervalMs;
    // The first tick at once: it measures the room left, which paces the next ones.
    timer = setTimeout(tick, 0);
  } else if (m.type === "stop") {
    clearTimeout(timer);
    try { checkpoint && checkpoint.finalize(); truncate && truncate.finalize(); db && db.close(); if (shm >= 0) closeSync(shm); } catch {}
    postMessage({ stopped: true });
  }
};
`;

/**
 * Frames in the WAL that chat.db has not taken yet (mxFrame − nBackfill in the wal-index header at
 * the start of `<db>-shm`, read without a lock like the worker does); null when there is no
 * wal-index. After a full disk this says whether a write would append to the WAL (backlog left: the
 * WAL cannot restart) or overwrite its start (none left: the next commit restarts it in place).
 */
export function walBacklog(dbPath: string): number | null {
  let fd = -1;
  try {
    fd = openSync(`${dbPath}-shm`, "r");
    const header = new Uint8Array(100);
    if (readSync(fd, header, 0, 100, 0) !== 100) return null;
    const words = new Uint32Array(header.buffer);
    return Math.max(0, words[4]! - words[24]!);
  } catch {
    return null;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

export interface Checkpointer {
  stop(): Promise<void>;
}

export interface CheckpointerOptions {
  intervalMs?: number;
  synchronous?: "FULL" | "NORMAL";
  onError?: (message: string) => void;
  /** Checkpoints work again after onError reported a failure. */
  onRecovered?: (message: string) => void;
}

export function startCheckpointer(dbPath: string, options: CheckpointerOptions = {}): Checkpointer {
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
  const worker = new Worker(url);
  (worker as unknown as { unref(): void }).unref(); // never keeps the process alive by itself
  worker.onmessage = (event) => {
    if (event.data?.error) options.onError?.(event.data.error);
    if (event.data?.recovered) options.onRecovered?.(event.data.recovered);
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

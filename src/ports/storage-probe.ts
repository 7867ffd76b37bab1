// What /health and the session watch ask of storage beyond the stores, so both work whatever the
// database: a read that proves it answers, a tiny real write after a failure, and a counter of
// other processes' commits. SQLite's is db/probe.ts.
import type { Awaitable } from "./stores";

export interface StorageProbe {
  /** A trivial read; throws when the database does not answer. */
  ping(): Awaitable<void>;
  /**
   * A real, tiny write that never waits for a lock: "ok" when it went through, "busy" when the lock
   * is held elsewhere (no answer either way); throws the storage's error when the write fails.
   */
  probeWrite(): Awaitable<"ok" | "busy">;
}

/** A number that moves when another process committed (caches and sessions re-check then). */
export interface StorageChanges {
  version(): number;
}

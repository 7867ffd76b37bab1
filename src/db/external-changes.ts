// Notices commits made by other connections (the CLI's `user reset-password`, a restore, any
// other process) so in-memory caches of rows can be dropped. SQLite's data_version changes only
// for other connections' commits; reading it costs a read transaction, so it is re-read at most
// once per STALE_AFTER_MS: an outside change is seen within that long.
//
// The message writer thread is another connection too; its commits, which the main thread
// accounts for itself, must not drop every cache after every batch. So while one of its commits
// is in flight a data_version change is left to the thread: it reads its own data_version under
// the write lock (nothing else can commit until its COMMIT) and every 100 ms while idle, and
// reports any commit not its own (`reported`). When its result arrives the main thread takes
// the current data_version as seen (`writing(false)`). Each outside commit is thus caught
// either here (no commit in flight) or by the thread (it landed before its BEGIN or after its
// COMMIT).
import type { Db } from "./client";

const STALE_AFTER_MS = 1;

export interface ExternalChanges {
  /** A number that changes after another connection has committed. */
  version(): number;
  /** The writer thread starts a commit (true) or has reported it and it is accounted for (false). */
  writing(inFlight: boolean): void;
  /** The writer thread saw another connection's commit. */
  reported(): void;
}

const watches = new WeakMap<Db, ExternalChanges>();

export function externalChanges(db: Db): ExternalChanges {
  let watch = watches.get(db);
  if (watch) return watch;
  const dataVersion = db.$client.query<{ data_version: number }, []>("PRAGMA data_version");
  let checkedAt = -Infinity;
  let seen = 0;
  let current = 0;
  let inFlight = false;
  watch = {
    version() {
      const at = performance.now();
      if (at - checkedAt >= STALE_AFTER_MS) {
        const dv = dataVersion.get()!.data_version;
        if (dv !== seen) {
          seen = dv;
          if (!inFlight) current++;
        }
        checkedAt = at;
      }
      return current;
    },
    writing(flag) {
      inFlight = flag;
      if (!flag) {
        seen = dataVersion.get()!.data_version;
        checkedAt = performance.now();
      }
    },
    reported() {
      current++;
    },
  };
  watches.set(db, watch);
  return watch;
}

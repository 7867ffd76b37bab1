// Notices commits made by other connections (the CLI's `user reset-password`, a restore, any
// other process) so in-memory caches of rows can be dropped. SQLite's data_version changes only
// for other connections' commits; reading it costs a read transaction, so it is re-read at most
// once per STALE_AFTER_MS: an outside change is seen within that long.
//
// The message writer thread is another connection too, but its commits are reported to the main
// thread, which updates the caches itself and then absorbs the change. An outside commit landing
// in the instant between the writer's commit and that absorb would be swallowed with it, so while
// absorbs happen the caches are also dropped once per SAFETY_DROP_MS: that bounds such a miss.
import type { Db } from "./client";

const STALE_AFTER_MS = 1;
const SAFETY_DROP_MS = 10_000;

export interface ExternalChanges {
  /** A number that changes after another connection has committed. */
  version(): number;
  /** The caller has accounted for every commit so far (the writer thread's, reported to it). */
  absorb(): void;
}

const watches = new WeakMap<Db, ExternalChanges>();

export function externalChanges(db: Db): ExternalChanges {
  let watch = watches.get(db);
  if (watch) return watch;
  const dataVersion = db.$client.query<{ data_version: number }, []>("PRAGMA data_version");
  let checkedAt = -Infinity;
  let seen = 0;
  let current = 0;
  let absorbedSince = false;
  let droppedAt = performance.now();
  watch = {
    version() {
      const at = performance.now();
      if (at - checkedAt >= STALE_AFTER_MS) {
        const dv = dataVersion.get()!.data_version;
        if (dv !== seen) (seen = dv), current++;
        checkedAt = at;
        if (absorbedSince && at - droppedAt >= SAFETY_DROP_MS) {
          absorbedSince = false;
          droppedAt = at;
          current++;
        }
      }
      return current;
    },
    absorb() {
      seen = dataVersion.get()!.data_version;
      checkedAt = performance.now();
      absorbedSince = true;
    },
  };
  watches.set(db, watch);
  return watch;
}

// Notices commits made by other connections (the CLI's `user reset-password`, a restore, any
// other process) so in-memory caches of rows can be dropped. SQLite's data_version changes only
// for other connections' commits; reading it costs a read transaction, so it is re-read at most
// once per STALE_AFTER_MS: an outside change is seen within that long.
import type { Db } from "./client";

const STALE_AFTER_MS = 1;

export interface ExternalChanges {
  /** A number that changes after another connection has committed. */
  version(): number;
}

const watches = new WeakMap<Db, ExternalChanges>();

export function externalChanges(db: Db): ExternalChanges {
  let watch = watches.get(db);
  if (watch) return watch;
  const dataVersion = db.$client.query<{ data_version: number }, []>("PRAGMA data_version");
  let checkedAt = -Infinity;
  let current = 0;
  watch = {
    version() {
      const at = performance.now();
      if (at - checkedAt >= STALE_AFTER_MS) {
        current = dataVersion.get()!.data_version;
        checkedAt = at;
      }
      return current;
    },
  };
  watches.set(db, watch);
  return watch;
}

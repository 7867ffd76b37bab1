// A real, tiny write for /health while storage is failing: rewriting SQLite's user_version (unused
// by the schema, which migrations track in their own table) appends one page to the WAL and
// fsyncs it like any commit. It runs at most once a second and only after a failure, never on
// the healthy path, and never waits for the write lock.
import { BUSY_TIMEOUT_MS, type Db } from "../../db/client";
import { classifyStorageError } from "../../errors";
import type { StorageHealth } from "../../storage-health";

const PROBE_EVERY_MS = 1000;
const lastProbe = new WeakMap<StorageHealth, number>();

export function probeWrite(db: Db, storage: StorageHealth) {
  const at = performance.now();
  if (at - (lastProbe.get(storage) ?? -Infinity) < PROBE_EVERY_MS) return;
  lastProbe.set(storage, at);
  const client = db.$client;
  client.run("PRAGMA busy_timeout = 0");
  try {
    const { user_version } = client.query<{ user_version: number }, []>("PRAGMA user_version").get()!;
    client.run(`PRAGMA user_version = ${user_version}`);
    storage.noteSuccess();
  } catch (error) {
    // Busy is no answer either way; a storage error keeps /health at 503 (counted like any failure).
    const fault = classifyStorageError(error);
    if (fault) storage.noteFailure(fault, String(error));
  } finally {
    client.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  }
}

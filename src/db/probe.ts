// SQLite's StorageProbe (ports/storage-probe.ts). The write rewrites SQLite's user_version (unused by
// the schema, which migrations track in their own table): it appends one page to the WAL and fsyncs
// it like any commit, and runs with busy_timeout 0 so it never waits for the write lock.
import type { StorageProbe } from "../ports/storage-probe";
import { BUSY_TIMEOUT_MS, type Db } from "./client";

const isBusy = (error: unknown) => /SQLITE_BUSY|database is locked/i.test(`${(error as { code?: unknown })?.code ?? ""} ${String(error)}`);

export function sqliteProbe(db: Db): StorageProbe {
  const client = db.$client;
  return {
    ping() {
      client.query("SELECT 1").get();
    },
    probeWrite() {
      client.run("PRAGMA busy_timeout = 0");
      try {
        const { user_version } = client.query<{ user_version: number }, []>("PRAGMA user_version").get()!;
        client.run(`PRAGMA user_version = ${user_version}`);
        return "ok";
      } catch (error) {
        if (isBusy(error)) return "busy";
        throw error;
      } finally {
        client.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      }
    },
  };
}

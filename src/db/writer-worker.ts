// The writer thread: runs each group commit (commit.ts) on its own SQLite connection, so a commit
// waiting on the disk (fsync under load, a frozen or failing file system) never stops the event
// loop. It only writes; the main thread keeps the caches, acks and publishes (modules/messages/writer.ts).
import { Database } from "bun:sqlite";
import { createCommitter } from "./stores/message-commit";
import type { CommitResult, SendRequest } from "../ports/message-commit";

declare const self: Worker;

export type ToWorker =
  | { type: "open"; path: string; synchronous: "FULL" | "NORMAL"; busyTimeoutMs: number }
  | { type: "commit"; requests: SendRequest[]; at: number }
  | { type: "close" };

export type FromWorker =
  | { type: "result"; result: CommitResult }
  /** Another connection committed while no batch ran (the main thread's caches must drop). */
  | { type: "foreign" }
  | { type: "closed" }
  | { type: "failed"; error: string };

/** How often an idle writer thread looks for other connections' commits. */
const IDLE_CHECK_MS = 100;

let db: Database | null = null;
let commit: ReturnType<typeof createCommitter> | null = null;
let idle: ReturnType<typeof setInterval> | null = null;
let lastCommitAt = 0;

/** Messages both ways are JSON text (cheaper than Bun's structured clone; see writer.ts). */
const reply = (m: FromWorker) => self.postMessage(JSON.stringify(m));

self.onmessage = (event: MessageEvent<string>) => {
  const m = JSON.parse(event.data) as ToWorker;
  try {
    if (m.type === "commit") {
      reply({ type: "result", result: commit!(m.requests, m.at) });
      lastCommitAt = performance.now();
    } else if (m.type === "open") {
      db = new Database(m.path, { strict: true });
      // The same pragmas as the main connection (db/client.ts) where they matter to a writer; a
      // short busy_timeout because the main thread retries a busy batch with a backoff.
      db.run(`PRAGMA busy_timeout = ${m.busyTimeoutMs}`);
      db.run(`PRAGMA synchronous = ${m.synchronous}`);
      db.run("PRAGMA foreign_keys = ON");
      db.run("PRAGMA journal_size_limit = 100663296");
      db.run("PRAGMA wal_autocheckpoint = 16384");
      // The main connection's cache (db/client.ts): with SQLite's default 2 MB, the search index's
      // pages fell out between batches and every commit read them back.
      db.run("PRAGMA temp_store = MEMORY");
      db.run("PRAGMA cache_size = -32000");
      commit = createCommitter(db, true);
      const check = commit.foreignCommits;
      idle = setInterval(() => {
        if (performance.now() - lastCommitAt < IDLE_CHECK_MS) return;
        try {
          if (check()) reply({ type: "foreign" });
        } catch {
          // A failing read is the next batch's to report.
        }
      }, IDLE_CHECK_MS);
    } else if (m.type === "close") {
      if (idle) clearInterval(idle);
      db?.close();
      db = null;
      reply({ type: "closed" });
    }
  } catch (error) {
    reply({ type: "failed", error: String(error) });
    // The main thread waits for every batch's result: a batch that could not even start fails.
    if (m.type === "commit") {
      const failure = { code: String((error as { code?: unknown })?.code ?? ""), message: String(error) };
      reply({ type: "result", result: { busy: false, failed: failure, outcomes: [] } });
    }
  }
};

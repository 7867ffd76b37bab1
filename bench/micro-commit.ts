// Micro-benchmark of the group commit itself (messages/commit.ts) on a migrated database: CPU and wall
// time per message at a batch size and synchronous mode, and what the parts cost when removed:
//   bun bench/micro-commit.ts [base|nofts|nohook|nofts-nohook|cs0|nopfx|am<N>] [batch] [FULL|NORMAL|OFF]
// CPU time is noisy on a shared machine; `strace -f -c` on it counts the WAL page writes (pwrite64)
// per message, which is not.
import { Database } from "bun:sqlite";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { seedGroups } from "./lib/seed-groups";
import { join } from "node:path";
import { createCommitter } from "../src/db/stores/message-commit";

const variant = process.argv[2] ?? "base";
const batch = Number(process.argv[3] ?? 1);
const sync = process.argv[4] ?? "FULL";
const dir = mkdtempSync(join(tmpdir(), "cv-"));
Bun.spawnSync(["bun", "run", join(import.meta.dir, "../src/index.ts"), "migrate", "--data-dir", dir]);
const db = new Database(join(dir, "chat.db"), { strict: true });
db.run("PRAGMA journal_mode = WAL"); db.run(`PRAGMA synchronous = ${sync}`); db.run("PRAGMA foreign_keys = ON");
if (variant.includes("nofts")) for (const t of ["messages_fts_insert", "messages_fts_update", "messages_fts_delete"]) db.run(`DROP TRIGGER ${t}`);
if (variant.includes("nohook")) for (const r of db.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type='trigger' AND name LIKE 'webhooks_%'").all()) db.run(`DROP TRIGGER ${r.name}`);
if (/cs0|nopfx|am\d|p2/.test(variant)) {
  db.run("DROP TABLE messages_fts");
  const opts = [variant.includes("nopfx") ? "" : variant.includes("p2") ? "prefix='2'" : "prefix='3'", variant.includes("cs0") ? "columnsize=0" : ""].filter(Boolean).join(", ");
  db.run(`CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='rowid', ${opts ? opts + ", " : ""}tokenize='unicode61 remove_diacritics 2')`);
  const am = /am(\d+)/.exec(variant); if (am) db.run(`INSERT INTO messages_fts(messages_fts, rank) VALUES('automerge', ${am[1]})`);
}
const { at, users, convs } = seedGroups(db);
const commit = createCommitter(db);
const words = "hello there how are you doing today the quick brown fox jumps over lazy dog meeting tomorrow lunch".split(" ");
let n = 0;
const req = () => { const i = n++; return { conversationId: convs[i % 20]!, senderId: users[(i % 20) * 10 + (i % 10)]!, recipientId: null, content: `${words[i % 19]} ${words[(i * 7) % 19]} ${words[(i * 3) % 19]} message number ${i}`, clientMsgId: Bun.randomUUIDv7() }; };
const run = (count: number) => { for (let b = 0; b < count / batch; b++) commit(Array.from({ length: batch }, req), Date.now()); };
run(5000);
const N = 20000;
const c0 = process.cpuUsage(); const t0 = performance.now();
run(N);
const wall = (performance.now() - t0) * 1000 / N; const cu = process.cpuUsage(c0); const cpu = (cu.user + cu.system) / N;
console.log(`${variant.padEnd(16)} batch ${String(batch).padStart(2)} sync ${sync.padEnd(4)} wall ${wall.toFixed(1).padStart(6)} µs/msg  cpu ${cpu.toFixed(1).padStart(6)} µs/msg (user ${(cu.user / N).toFixed(1)} sys ${(cu.system / N).toFixed(1)})`);

// What the search index's triggers cost each send: CPU per inserted message with the triggers and
// with them dropped, on the real migrated schema, in group-commit batches of 1, 16 and 128 (the
// writer's batches range from 1 to 512). CPU time, not wall time, so a busy shared machine moves it
// less. `bun run bench/micro-search-index.ts [messages]`.
import { rmSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/client";
import { runMigrations } from "../src/db/migrate";
import { rng, vocabulary, zipf } from "./lib/search-corpus";

const messages = Number(process.argv[2] ?? 32_000);
const words = vocabulary(20_000);
const rand = rng(5);
const draw = zipf(words.length, 1.05, rand);
const texts = Array.from({ length: 2000 }, () => Array.from({ length: 4 + Math.floor(rand() * 14) }, () => words[draw()]).join(" "));
const dir = mkdtempSync(join(tmpdir(), "bench-search-index-"));

function cpuPerMessage(triggers: boolean, batch: number): number {
  const path = join(dir, `${triggers}-${batch}.db`);
  const db = openDatabase(path, { synchronous: "NORMAL" }); // fsync is the same either way: leave it out
  runMigrations(db);
  const c = db.$client;
  if (!triggers) for (const t of ["insert", "delete", "update"]) c.run(`DROP TRIGGER messages_fts_${t}`);
  c.run("INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at) VALUES ('u','u','u','u','u','!',1,1)");
  c.run("INSERT INTO conversations (id, name, is_group, created_by, last_seq, last_activity_at, created_at, updated_at) VALUES ('c','g',1,'u',0,1,1,1)");
  const insert = c.query(
    "INSERT INTO messages (id, conversation_id, seq, sender_id, recipient_id, content, client_msg_id, created_at, updated_at) VALUES (?, 'c', ?, 'u', NULL, ?, NULL, ?, ?)",
  );
  let seq = 0;
  const commit = (n: number) =>
    c.transaction(() => {
      for (let i = 0; i < n; i++, seq++) insert.run(Bun.randomUUIDv7(), seq + 1, texts[seq % texts.length]!, seq, seq);
    })();
  for (let i = 0; i < messages / 10 / batch; i++) commit(batch); // some history and warm statements
  const start = process.cpuUsage();
  for (let i = 0; i < messages / batch; i++) commit(batch);
  const used = process.cpuUsage(start);
  c.close();
  rmSync(path, { force: true });
  return (used.user + used.system) / messages;
}

try {
  console.log(`CPU µs per inserted message (${messages} messages, median of 3):`);
  for (const batch of [1, 16, 128]) {
    const median = (triggers: boolean) => [0, 1, 2].map(() => cpuPerMessage(triggers, batch)).sort((a, b) => a - b)[1]!;
    const without = median(false);
    const withIndex = median(true);
    console.log(`  batch ${String(batch).padStart(3)}: without triggers ${without.toFixed(1)} µs, with ${withIndex.toFixed(1)} µs (+${(withIndex - without).toFixed(1)} µs)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// Micro-benchmark of the socket send path's SQLite statements, on a database migrated by the built
// binary: what each per-message query costs, and what the alternatives the profile suggests would.
//   bun bench/micro-write-path.ts [dist/chat-server]
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { seedGroups } from "./lib/seed-groups";
import { join, resolve } from "node:path";
import { freePort, spawnProc, waitReady } from "./lib/util";
import { serverCommand } from "./scenarios/startup";

const binary = resolve(process.argv[2] ?? join(import.meta.dir, "../dist/chat-server"));
const dir = mkdtempSync(join(tmpdir(), "bench-micro-"));
const port = await freePort();
const proc = spawnProc(serverCommand(binary, dir, port));
await waitReady(`http://127.0.0.1:${port}/health`, proc);
await proc.stop();

const COLS = "id, conversation_id, seq, sender_id, recipient_id, content, client_msg_id, created_at, updated_at";
function open(synchronous: string) {
  const db = new Database(join(dir, "chat.db"), { strict: true });
  db.run("PRAGMA busy_timeout = 5000");
  db.run("PRAGMA journal_mode = WAL");
  db.run(`PRAGMA synchronous = ${synchronous}`);
  db.run("PRAGMA foreign_keys = ON");
  return db;
}

const db = open("FULL");
const { at, users, convs } = seedGroups(db);

function time(label: string, n: number, fn: (i: number) => void) {
  for (let i = 0; i < Math.min(n, 1000); i++) fn(i);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  const us = ((performance.now() - t0) * 1000) / n;
  console.log(`${label.padEnd(72)} ${us.toFixed(2).padStart(8)} µs`);
  return us;
}

const N = 100_000;
const pick = (i: number) => ({ conv: convs[i % 20]!, user: users[(i % 20) * 10 + (i % 10)]! });
console.log("per message, outside a transaction (as prepareSend runs today):");
const current = db.query(
  `SELECT c.is_group AS is_group,
          (SELECT user_id FROM members WHERE conversation_id = c.id AND user_id != ?1 LIMIT 1) AS other
   FROM conversations c JOIN members mb ON mb.conversation_id = c.id AND mb.user_id = ?2
   WHERE c.id = ?3`,
);
time("prepareSend membership + is_group + other member (current query)", N, (i) => {
  const { conv, user } = pick(i);
  current.get(user, user, conv);
});
const member = db.query("SELECT 1 FROM members WHERE conversation_id = ? AND user_id = ?");
time("membership point lookup only (members PK)", N, (i) => {
  const { conv, user } = pick(i);
  member.get(conv, user);
});
const cache = new Map<string, { isGroup: boolean; other: string | null }>();
time("in-memory membership cache (Map lookup)", N, (i) => {
  const { conv, user } = pick(i);
  const key = conv + user;
  let hit = cache.get(key);
  if (!hit) cache.set(key, (hit = { isGroup: true, other: null }));
});
db.run("BEGIN");
time("current query inside an open read transaction", N, (i) => {
  const { conv, user } = pick(i);
  current.get(user, user, conv);
});
db.run("COMMIT");

console.log("\nwrite path, batches of 100 messages in one transaction (group commit), per message:");
let counter = 0;
function writePath(db: Database, mode: string) {
  const findExisting = db.query(`SELECT ${COLS} FROM messages WHERE conversation_id = ? AND sender_id = ? AND client_msg_id = ?`);
  const nextSeq = db.query("UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = ?, updated_at = ? WHERE id = ? RETURNING last_seq");
  const insert = db.query(`INSERT INTO messages (${COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const writeCurrent = db.transaction((batch: number[]) => {
    for (const i of batch) {
      const { conv, user } = pick(i);
      const id = `c${counter++}`;
      findExisting.get(conv, user, id);
      const seq = nextSeq.get(at, at, conv) as { last_seq: number };
      insert.run(Bun.randomUUIDv7(), conv, seq.last_seq, user, null, "hello there, a chat-sized line of text", id, at, at);
    }
  });
  const seqs = new Map<string, number>();
  const readSeq = db.query<{ last_seq: number }, [string]>("SELECT last_seq FROM conversations WHERE id = ?");
  const setSeq = db.query("UPDATE conversations SET last_seq = ?, last_activity_at = ?, updated_at = ? WHERE id = ?");
  const writeCached = db.transaction((batch: number[]) => {
    const touched = new Set<string>();
    for (const i of batch) {
      const { conv, user } = pick(i);
      const id = `d${counter++}`;
      findExisting.get(conv, user, id);
      const seq = seqs.get(conv)! + 1;
      seqs.set(conv, seq);
      touched.add(conv);
      insert.run(Bun.randomUUIDv7(), conv, seq, user, null, "hello there, a chat-sized line of text", id, at, at);
    }
    for (const c of touched) setSeq.run(seqs.get(c)!, at, at, c);
  });
  const batch = Array.from({ length: 100 }, (_, k) => k);
  const quiet = (fn: () => void) => {
    for (let i = 0; i < 30; i++) fn();
    const t0 = performance.now();
    for (let i = 0; i < 300; i++) fn();
    return ((performance.now() - t0) * 1000) / 300;
  };
  const a = quiet(() => writeCurrent(batch));
  for (const c of convs) seqs.set(c, readSeq.get(c)!.last_seq);
  const b = quiet(() => writeCached(batch));
  const commit = quiet(() => db.transaction(() => setSeq.run(seqs.get(convs[0]!)!, at, at, convs[0]!))());
  const row = (label: string, us: number) => console.log(`${label.padEnd(72)} ${us.toFixed(2).padStart(8)} µs`);
  row(`current writer (dedup SELECT + UPDATE…RETURNING + INSERT), ${mode}`, a / 100);
  row(`seq kept in memory, one UPDATE per conversation per batch, ${mode}`, b / 100);
  row(`one commit (BEGIN + one-row UPDATE + COMMIT), ${mode}, per batch`, commit);
}
writePath(db, "FULL");
db.close();
const normal = open("NORMAL");
writePath(normal, "NORMAL");
normal.close();
const off = open("OFF");
writePath(off, "OFF (CPU only, no fsync)");
off.close();
rmSync(dir, { recursive: true, force: true });

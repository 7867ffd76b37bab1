// W2 at one message in flight per socket (200 sockets, 20 groups of 10) against one server pinned to
// core 1, measured for 8 s after 3 s of warm-up: acked sends/s, the server's CPU per acked send split
// by thread (the event loop, the writer thread "Worker", GC and JIT threads, from /proc/<pid>/task)
// and the mean group-commit batch (from /metrics). It shows where a send's CPU goes, which the
// bench's per-process figure cannot:
//   bun bench/w2-threads.ts dist/chat-server ["--writer-thread false"]
//   PREP_SQL="DROP TRIGGER messages_fts_insert" bun bench/w2-threads.ts dist/chat-server   (a schema A/B)
// Statements in PREP_SQL are separated by ";;" and run on the migrated database before the server starts.
import { Database } from "bun:sqlite";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGroups, createUsers } from "./lib/api";
import { Pool, sendMessage } from "./lib/sockets";

const ROOT = join(import.meta.dir, "..");
const TICK_US = 10_000; // /proc times are in 1/100 s
const [binary, extra = ""] = process.argv.slice(2);
if (!binary) throw new Error("usage: bun bench/w2-threads.ts <server command> [extra serve flags]");
const command = binary.split(" ");
const port = 18500 + Math.floor(Math.random() * 400);
const dir = mkdtempSync(join(tmpdir(), "w2-threads-"));

if (process.env.PREP_SQL) {
  Bun.spawnSync([...command, "migrate", "--data-dir", dir], { cwd: ROOT });
  const db = new Database(join(dir, "chat.db"));
  for (const statement of process.env.PREP_SQL.split(";;")) db.run(statement);
  db.close();
}
const serve = [...command, "serve", "--port", String(port), "--host", "127.0.0.1", "--data-dir", dir, "--rate-limit", "false", "--log-level", "warn"];
const server = Bun.spawn(["taskset", "-c", "1", ...serve, ...extra.split(" ").filter(Boolean)], { stdout: "inherit", stderr: "inherit", cwd: ROOT });
const base = `http://127.0.0.1:${port}`;
for (let i = 0; i < 100; i++) {
  if (await fetch(base + "/health").then((r) => r.ok, () => false)) break;
  await Bun.sleep(100);
}

/** CPU ticks so far of each thread of the server, by thread name (same-named threads summed). */
function threadTicks(): Record<string, number> {
  const ticks: Record<string, number> = {};
  for (const tid of readdirSync(`/proc/${server.pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${server.pid}/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const name = readFileSync(`/proc/${server.pid}/task/${tid}/comm`, "utf8").trim();
      ticks[name] = (ticks[name] ?? 0) + Number(fields[11]) + Number(fields[12]); // utime + stime
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return ticks;
}

async function writerCounters() {
  const text = await (await fetch(base + "/metrics")).text();
  const counter = (name: string) => Number(new RegExp(`^${name}(?:\\{\\})? ([0-9.e+]+)`, "m").exec(text)?.[1] ?? NaN);
  return { batches: counter("chat_message_batches_total"), messages: counter("chat_messages_stored_total") };
}

const users = await createUsers(base, 200, "p", 4);
const groups = await createGroups(base, users, 20, 10, "g");
const pool = new Pool();
await pool.open(base.replace("http", "ws") + "/api/v1/ws", users.map((u) => u.token));
pool.conns.forEach((conn, i) => (conn.conversationId = groups[Math.floor(i / 10)]!));
let acked = 0;
pool.handler = (conn, _raw, type) => {
  if (type !== "message_ack") return;
  acked++;
  conn.inflight--;
  sendMessage(conn, "x");
};
for (const conn of pool.conns) sendMessage(conn, "x");
await Bun.sleep(3000);

const before = { acked, ticks: threadTicks(), writer: await writerCounters(), at: performance.now() };
await Bun.sleep(8000);
const after = { acked, ticks: threadTicks(), writer: await writerCounters(), at: performance.now() };

const seconds = (after.at - before.at) / 1000;
const sends = after.acked - before.acked;
const parts: string[] = [];
let total = 0;
for (const [name, ticks] of Object.entries(after.ticks)) {
  const perSend = ((ticks - (before.ticks[name] ?? 0)) * TICK_US) / sends;
  total += perSend;
  if (perSend > 0.5) parts.push(`${name} ${perSend.toFixed(1)}`);
}
const batch = (after.writer.messages - before.writer.messages) / (after.writer.batches - before.writer.batches);
console.log(
  `${binary} ${extra}: ${(sends / seconds).toFixed(0)} sends/s (${((sends * 10) / seconds).toFixed(0)} delivered/s), ` +
    `server CPU per send ${total.toFixed(1)} µs [${parts.join(", ")}], mean batch ${batch.toFixed(1)} messages`,
);
server.kill();
await server.exited;
rmSync(dir, { recursive: true, force: true });
process.exit(0);

// Micro-benchmark of the message writer as the server runs it (modules/messages/writer.ts), inline
// or on the writer thread: `senders` clients with one send in flight each, CPU of the whole process
// (every thread) and wall time per message, and with `--read` a page read on the main connection
// after every ack (what a reader costs once another connection's commit has reset its page cache).
//   bun bench/micro-writer.ts [inline|thread] [senders] [FULL|NORMAL|OFF] [--read]
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/client";
import { createMessageWriter } from "../src/modules/messages/writer";
import { isBusyFailure, sqliteMessageCommitter } from "../src/db/writer-thread";
import { sqliteStorage } from "../src/db/stores";
import { seedGroups } from "./lib/seed-groups";

const mode = process.argv[2] ?? "inline";
const senders = Number(process.argv[3] ?? 1);
const sync = (process.argv[4] ?? "FULL") as "FULL" | "NORMAL";
const read = process.argv.includes("--read");
const dir = mkdtempSync(join(tmpdir(), "cw-"));
Bun.spawnSync(["bun", "run", join(import.meta.dir, "../src/index.ts"), "migrate", "--data-dir", dir]);
const path = join(dir, "chat.db");
const db = openDatabase(path, { synchronous: sync });
if (process.argv.includes("--mmap")) db.$client.run("PRAGMA mmap_size = 1073741824");
const { users, convs } = seedGroups(db.$client);
const feed = { committed() {} } as any;
const committer = sqliteMessageCommitter(db, { thread: mode === "thread", path, synchronous: sync });
const writer = createMessageWriter(sqliteStorage(db).stores.messages, feed, { committer, isBusyFailure });
const page = db.$client.query("SELECT id, seq, content FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT 20");
const words = "hello there how are you doing today the quick brown fox jumps over lazy dog meeting tomorrow lunch".split(" ");
let n = 0;
const req = () => {
  const i = n++;
  return { conversationId: convs[i % 20]!, senderId: users[(i % 20) * 10 + (i % 10)]!, recipientId: null, content: `${words[i % 19]} ${words[(i * 7) % 19]} message ${i}`, clientMsgId: Bun.randomUUIDv7() };
};
async function run(total: number) {
  let left = total;
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (left-- > 0) {
        const r = req();
        await writer.send(r);
        if (read) page.all(r.conversationId);
      }
    }),
  );
}
await run(2000);
const N = 10000;
const c0 = process.cpuUsage();
const t0 = performance.now();
await run(N);
const wall = ((performance.now() - t0) * 1000) / N;
const cu = process.cpuUsage(c0);
console.log(
  `${mode.padEnd(6)} senders ${String(senders).padStart(2)} sync ${sync.padEnd(6)}${read ? " +read" : "      "} wall ${wall.toFixed(1).padStart(6)} µs/msg  cpu ${((cu.user + cu.system) / N).toFixed(1).padStart(6)} µs/msg (user ${(cu.user / N).toFixed(1)} sys ${(cu.system / N).toFixed(1)})`,
);
await writer.close();
process.exit(0);

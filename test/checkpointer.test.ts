// The WAL checkpoint worker copies committed pages into the database file off the event loop.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCheckpointer } from "../src/db/checkpointer";
import { openDatabase } from "../src/db/client";

test("the checkpoint worker moves WAL pages into the database file while the main connection never checkpoints", async () => {
  const dir = mkdtempSync(join(tmpdir(), "chat-ckpt-"));
  const path = join(dir, "t.db");
  const db = openDatabase(path);
  db.$client.run("PRAGMA wal_autocheckpoint = 0");
  db.$client.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  const before = statSync(path).size;
  const insert = db.$client.query("INSERT INTO t (v) VALUES (?)");
  db.$client.transaction(() => {
    for (let i = 0; i < 2000; i++) insert.run("x".repeat(500));
  })();
  expect(statSync(path + "-wal").size).toBeGreaterThan(100_000);
  const checkpointer = startCheckpointer(path, { intervalMs: 20, thresholdBytes: 1024 });
  const deadline = Date.now() + 10_000;
  while (statSync(path).size <= before + 500_000 && Date.now() < deadline) await Bun.sleep(25);
  await checkpointer.stop();
  expect(statSync(path).size).toBeGreaterThan(before + 500_000);
  db.$client.close();
  rmSync(dir, { recursive: true, force: true });
});

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
  const checkpointer = startCheckpointer(path, { intervalMs: 20 });
  const deadline = Date.now() + 10_000;
  while (statSync(path).size <= before + 500_000 && Date.now() < deadline) await Bun.sleep(25);
  await checkpointer.stop();
  expect(statSync(path).size).toBeGreaterThan(before + 500_000);
  db.$client.close();
  rmSync(dir, { recursive: true, force: true });
});

test("under a steady stream of commits the WAL is fully copied and restarts, so it stays small", async () => {
  const dir = mkdtempSync(join(tmpdir(), "chat-ckpt-"));
  const path = join(dir, "t.db");
  const db = openDatabase(path);
  db.$client.run("PRAGMA wal_autocheckpoint = 0"); // only the worker checkpoints
  db.$client.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  const insert = db.$client.query("INSERT INTO t (v) VALUES (?)");
  const commit = db.$client.transaction(() => {
    for (let i = 0; i < 3; i++) insert.run("x".repeat(3000));
  });
  const checkpointer = startCheckpointer(path, { intervalMs: 20 });
  // ~12 KB of WAL per commit: without restarts 600 commits leave a WAL of 7 MB or more.
  let largestWal = 0;
  for (let i = 0; i < 600; i++) {
    commit();
    largestWal = Math.max(largestWal, statSync(path + "-wal").size);
    await Bun.sleep(2);
  }
  await checkpointer.stop();
  expect(largestWal).toBeGreaterThan(0);
  expect(largestWal).toBeLessThan(3 * 1024 * 1024);
  expect(db.$client.query("SELECT count(*) AS n FROM t").get()).toEqual({ n: 1800 });
  db.$client.close();
  rmSync(dir, { recursive: true, force: true });
});

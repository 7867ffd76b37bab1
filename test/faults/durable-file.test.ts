// The pieces behind the start-up guarantees, in process: durable file creation, stale temporary
// files, and when `serve` runs quick_check on a database too big to check at every start.
import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config";
import { removeStaleTemporaries, writeFileDurably } from "../../src/lib/durable-file";
import { openDataDir } from "../../src/db/data-dir";
import { corruptPages } from "../support/faults";

const dirs: string[] = [];
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), "chat-durable-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A PID no process has right now: a child that already exited. */
async function deadPid(): Promise<number> {
  const child = Bun.spawn(["true"]);
  await child.exited;
  return child.pid;
}

test("writeFileDurably creates the file with its mode, leaves no temporary file, and never replaces an existing one", () => {
  const dir = scratch();
  const path = join(dir, "secret");
  writeFileDurably(path, "first\n", 0o600);
  expect(readFileSync(path, "utf8")).toBe("first\n");
  expect(statSync(path).mode & 0o777).toBe(0o600);
  expect(() => writeFileDurably(path, "second\n", 0o600)).toThrow(expect.objectContaining({ code: "EEXIST" }));
  expect(readFileSync(path, "utf8")).toBe("first\n");
  writeFileDurably(path, "third\n", 0o640, { overwrite: true });
  expect(readFileSync(path, "utf8")).toBe("third\n");
  expect(statSync(path).mode & 0o777).toBe(0o640);
  expect(readdirSync(dir)).toEqual(["secret"]);
});

test("temporary files of dead writers (or of an earlier process with our PID) are removed; other live writers' and other names are kept", async () => {
  const dir = scratch();
  const dead = await deadPid();
  const names = [`secret.tmp-${dead}`, `secret.tmp-${process.pid}`, `secret.tmp-1`, "secret.tmp-x", "other"];
  for (const n of names) writeFileSync(join(dir, n), "x");
  writeFileDurably(join(dir, "secret"), "fresh\n");
  // PID 1 is alive (init), so its file stays.
  expect(readdirSync(dir).sort()).toEqual(["other", "secret", "secret.tmp-1", "secret.tmp-x"]);
  expect(removeStaleTemporaries(dir, /^other\.tmp-(\d+)$/)).toEqual([]);
});

test("serve checks a database too big for every start only after an unclean stop (a WAL left behind)", () => {
  const dir = scratch();
  const config = { ...loadConfig([], {}), dataDir: dir };
  openDataDir(config).$client.close();
  const path = join(dir, "chat.db");
  corruptPages(path);
  // Treated as big: after a clean stop (no WAL) it starts without reading every page.
  openDataDir(config, undefined, { quickCheck: "auto", quickCheckAlwaysBytes: 0 }).$client.close();
  // Another connection still open with committed frames in the WAL: what a crash leaves.
  const other = new Database(path);
  other.run("PRAGMA journal_mode = WAL");
  other.run("CREATE TABLE crash_leftover (x)");
  try {
    expect(existsSync(`${path}-wal`) && statSync(`${path}-wal`).size).toBeGreaterThan(0);
    expect(() => openDataDir(config, undefined, { quickCheck: "auto", quickCheckAlwaysBytes: 0 })).toThrow("quick_check");
    expect(() => openDataDir(config, undefined, { quickCheck: "auto" })).toThrow("quick_check"); // small: always checked
  } finally {
    other.close();
  }
});

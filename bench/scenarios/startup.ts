// W6 start-up: process spawn to the first 200 from /health, on an empty data dir and on a 1M-message
// database, against a bare compiled hello-world server; plus binary sizes.
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, pinnedCommand, round, SERVER_CORE, spawnProc, waitReady } from "../lib/util";
import { seedHistory } from "./rest";

export const DB_FILE = "chat.db";

export function serverCommand(binary: string, dataDir: string, port: number, extra: string[] = []) {
  return [binary, "serve", "--data-dir", dataDir, "--port", String(port), "--host", "127.0.0.1", "--rate-limit", "false", "--log-level", "warn", ...extra];
}

/** Spawn to ready, `repeats` times; `prepare` gives the command for each attempt (fresh dir or not). */
async function timeStarts(repeats: number, prepare: (port: number) => string[]) {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const port = await freePort();
    const cmd = pinnedCommand(prepare(port), SERVER_CORE);
    const t0 = performance.now();
    const proc = spawnProc(cmd);
    try {
      times.push(await waitReady(`http://127.0.0.1:${port}/health`, proc, t0));
    } finally {
      await proc.stop();
    }
  }
  const sorted = [...times].sort((a, b) => a - b);
  return { median_ms: round(sorted[Math.floor(sorted.length / 2)]!, 1), min_ms: round(sorted[0]!, 1), runs_ms: times.map((t) => round(t, 1)) };
}

/** A data dir migrated by the binary itself, then filled with `rows` messages in one group. */
async function buildBigDb(binary: string, rows: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "bench-w6-big-"));
  const port = await freePort();
  const proc = spawnProc(serverCommand(binary, dir, port));
  await waitReady(`http://127.0.0.1:${port}/health`, proc);
  await proc.stop();
  const db = new Database(join(dir, DB_FILE), { strict: true });
  const at = Date.now();
  const userId = Bun.randomUUIDv7();
  const convId = Bun.randomUUIDv7();
  db.query(
    "INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at) VALUES (?, 'w6', 'w6', 'w6@bench.invalid', 'w6@bench.invalid', 'x', ?, ?)",
  ).run(userId, at, at);
  db.query("INSERT INTO conversations (id, name, is_group, created_by, last_seq, last_activity_at, created_at, updated_at) VALUES (?, 'w6', 1, ?, 0, ?, ?, ?)").run(
    convId,
    userId,
    at,
    at,
    at,
  );
  db.query("INSERT INTO members (conversation_id, user_id, last_read_seq, joined_at) VALUES (?, ?, 0, ?)").run(convId, userId, at);
  db.close();
  seedHistory(join(dir, DB_FILE), convId, userId, rows);
  return dir;
}

export interface W6Params {
  rows: number;
  repeats: number;
}

export async function startup(binary: string, helloBinary: string, p: W6Params) {
  const dirs: string[] = [];
  try {
    const empty = await timeStarts(p.repeats, (port) => {
      const dir = mkdtempSync(join(tmpdir(), "bench-w6-empty-"));
      dirs.push(dir);
      return serverCommand(binary, dir, port);
    });
    const t0 = performance.now();
    const big = await buildBigDb(binary, p.rows);
    dirs.push(big);
    const buildMs = performance.now() - t0;
    const dbBytes = statSync(join(big, DB_FILE)).size;
    await timeStarts(1, (port) => serverCommand(binary, big, port)); // warm the page cache once
    const loaded = await timeStarts(p.repeats, (port) => serverCommand(binary, big, port));
    const hello = await timeStarts(p.repeats, (port) => [helloBinary, "--port", String(port)]);
    return {
      empty_db: empty,
      big_db: { messages: p.rows, db_bytes: dbBytes, build_ms: round(buildMs, 0), ...loaded },
      hello_world: hello,
      binary_bytes: statSync(binary).size,
      hello_binary_bytes: statSync(helloBinary).size,
    };
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

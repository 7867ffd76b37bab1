// W5 REST: a 100k-message history written straight into the data dir, then GET latest 50 and POST
// messages under a loopback HTTP load tool (wrk when installed, else a Bun fetch closed loop).
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GENERATOR_CORE, pinnedCommand, round, Samples } from "../lib/util";

export const hasWrk = Bun.spawnSync(["sh", "-c", "command -v wrk"]).exitCode === 0;

/**
 * Appends `rows` messages to a conversation through a second SQLite connection (WAL lets it write
 * beside the running server, which is idle meanwhile), with time-ordered ids and gap-free seqs.
 */
export function seedHistory(dbPath: string, conversationId: string, senderId: string, rows: number) {
  const db = new Database(dbPath, { strict: true });
  try {
    db.run("PRAGMA busy_timeout = 10000");
    db.run("PRAGMA synchronous = OFF");
    const start = db.query<{ last_seq: number }, [string]>("SELECT last_seq FROM conversations WHERE id = ?").get(conversationId);
    if (!start) throw new Error(`conversation ${conversationId} not found in ${dbPath}`);
    const insert = db.query(
      "INSERT INTO messages (id, conversation_id, seq, sender_id, recipient_id, content, client_msg_id, created_at, updated_at) VALUES (?, ?, ?, ?, NULL, ?, NULL, ?, ?)",
    );
    const t0 = Date.now() - rows;
    const chunk = 50_000;
    for (let from = 0; from < rows; from += chunk) {
      db.transaction(() => {
        for (let i = from; i < Math.min(rows, from + chunk); i++) {
          const seq = start.last_seq + i + 1;
          insert.run(Bun.randomUUIDv7("hex", t0 + i), conversationId, seq, senderId, `history message ${seq}: the quick brown fox jumps over the lazy dog`, t0 + i, t0 + i);
        }
      })();
    }
    db.query("UPDATE conversations SET last_seq = ?, last_activity_at = ? WHERE id = ?").run(start.last_seq + rows, Date.now(), conversationId);
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
}

export interface LoadResult {
  tool: string;
  requests: number;
  req_per_s: number | null;
  latency_ms: { p50: number | null; p99: number | null };
  non_2xx: number;
  socket_errors: number;
}

export interface LoadSpec {
  url: string;
  method: "GET" | "POST";
  token: string;
  body?: string;
  /** More wrk Lua, e.g. a `request` function that varies the path (W7's queries). */
  lua?: string;
  duration: number;
  connections: number;
}

export function load(spec: LoadSpec): Promise<LoadResult> {
  return hasWrk ? wrk(spec) : fetchLoop(spec);
}

const toMs = (value: string, unit: string) => Number(value) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? 1);

async function wrk(spec: LoadSpec): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "bench-wrk-"));
  try {
    const script = join(dir, "script.lua");
    const lines = [`wrk.method = "${spec.method}"`, `wrk.headers["Authorization"] = "Bearer ${spec.token}"`];
    if (spec.body !== undefined) {
      lines.push(`wrk.headers["Content-Type"] = "application/json"`, `wrk.body = ${JSON.stringify(spec.body)}`);
    }
    if (spec.lua) lines.push(spec.lua);
    writeFileSync(script, lines.join("\n") + "\n");
    const cmd = pinnedCommand(["wrk", "-t1", `-c${spec.connections}`, `-d${spec.duration}s`, "--latency", "-s", script, spec.url], GENERATOR_CORE);
    const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(proc.stdout).text();
    if ((await proc.exited) !== 0) throw new Error(`wrk failed: ${out} ${await new Response(proc.stderr).text()}`);
    const pct = (p: string) => {
      const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(out);
      return m ? round(toMs(m[1]!, m[2]!)) : null;
    };
    const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    return {
      tool: `wrk -t1 -c${spec.connections}`,
      requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
      req_per_s: round(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN), 1),
      latency_ms: { p50: pct("50"), p99: pct("99") },
      non_2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
      socket_errors: socketErrors ? socketErrors.slice(1).reduce((n, v) => n + Number(v), 0) : 0,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Fallback when wrk is missing: `connections` closed loops of fetch in this (pinned) process. */
async function fetchLoop(spec: LoadSpec): Promise<LoadResult> {
  const headers: Record<string, string> = { authorization: `Bearer ${spec.token}` };
  if (spec.body !== undefined) headers["content-type"] = "application/json";
  // Like wrk, ask for identity: Bun's fetch would otherwise offer gzip and the server would compress pages.
  headers["accept-encoding"] = "identity";
  const samples = new Samples();
  let requests = 0;
  let non2xx = 0;
  let errors = 0;
  const t0 = performance.now();
  const end = t0 + spec.duration * 1000;
  await Promise.all(
    Array.from({ length: spec.connections }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        try {
          const res = await fetch(spec.url, { method: spec.method, headers, body: spec.body });
          await res.arrayBuffer();
          if (res.status >= 300) non2xx++;
          samples.add(performance.now() - s);
          requests++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const s = samples.summary();
  return {
    tool: `bun fetch closed loop x${spec.connections}`,
    requests,
    req_per_s: round(requests / seconds, 1),
    latency_ms: { p50: s.p50, p99: s.p99 },
    non_2xx: non2xx,
    socket_errors: errors,
  };
}

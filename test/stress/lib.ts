// Harness pieces for the stress scenarios: the compiled binary on loopback with a temporary data dir,
// process figures from /proc, a resilient socket sender and small statistics helpers.
import { Database } from "bun:sqlite";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { Api, TestUser } from "../support/api";
import { freePort, ROOT } from "../support/binary";
import { TestSocket, wsUrl } from "../support/socket";

const BUILT = join(ROOT, "dist/chat-server");
/** The binary under test: a private copy, so a rebuild of dist/ by someone else mid-run changes nothing. */
export let BINARY = BUILT;

export async function ensureBinary(force = false) {
  if (force || !existsSync(BUILT)) {
    const build = Bun.spawn(["bun", "run", "build"], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
    if ((await build.exited) !== 0) throw new Error("bun run build failed");
  }
  const copy = join(mkdtempSync(join(tmpdir(), "chat-stress-bin-")), "chat-server");
  for (let attempt = 0; ; attempt++) {
    try {
      const before = statSync(BUILT);
      copyFileSync(BUILT, copy);
      const after = statSync(BUILT);
      // A build writing the file right now shows up as a changing size or mtime: copy again.
      if (before.size === after.size && before.mtimeMs === after.mtimeMs && statSync(copy).size === after.size) break;
    } catch (error) {
      if (attempt > 20) throw error;
    }
    await Bun.sleep(500);
  }
  chmodSync(copy, 0o755);
  BINARY = copy;
  process.on("exit", () => rmSync(join(copy, ".."), { recursive: true, force: true }));
}

export class BinaryServer {
  proc: Subprocess | null = null;
  readonly url: string;
  readonly dataDir: string;
  stderr = "";

  // A fixed port, so restarts after SIGKILL come back at the same address.
  constructor(readonly port = freePort(), readonly flags: string[] = ["--rate-limit", "false"], dataDir?: string) {
    this.dataDir = dataDir ?? mkdtempSync(join(tmpdir(), "chat-stress-"));
    this.url = `http://127.0.0.1:${port}`;
  }

  get dbPath() {
    return join(this.dataDir, "chat.db");
  }

  /** Starts the binary and waits for /health; returns the milliseconds from spawn to healthy. */
  async start(timeoutMs = 15_000): Promise<number> {
    const t0 = performance.now();
    this.proc = Bun.spawn(
      [BINARY, "serve", "--port", String(this.port), "--host", "127.0.0.1", "--data-dir", this.dataDir, "--log-level", "warn", ...this.flags],
      { stdout: "ignore", stderr: "pipe" },
    );
    void this.collect(this.proc);
    while (performance.now() - t0 < timeoutMs) {
      if (this.proc.exitCode !== null) throw new Error(`server exited with ${this.proc.exitCode}: ${this.stderr.slice(-2000)}`);
      try {
        const res = await fetch(`${this.url}/health`);
        if (res.ok) return performance.now() - t0;
      } catch {}
      await Bun.sleep(5);
    }
    throw new Error("server did not become healthy");
  }

  private async collect(proc: Subprocess) {
    const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      this.stderr += decoder.decode(value);
      if (this.stderr.length > 200_000) this.stderr = this.stderr.slice(-100_000);
    }
  }

  get pid() {
    return this.proc?.pid ?? 0;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    if (!this.proc) return null;
    this.proc.kill(signal);
    const code = await this.proc.exited;
    this.proc = null;
    return code;
  }

  /** RSS in bytes, open fds and WAL size, straight from /proc and the data dir. */
  figures() {
    const pid = this.pid;
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    const walPath = this.dbPath + "-wal";
    const wal = existsSync(walPath) ? statSync(walPath).size : 0;
    return { rss, fds, wal };
  }

  openDb() {
    return new Database(this.dbPath, { readonly: true });
  }

  cleanup() {
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export async function users(api: Api, n: number, prefix = "s"): Promise<TestUser[]> {
  const out: TestUser[] = [];
  for (let i = 0; i < n; i++) out.push(await api.newUser(prefix));
  return out;
}

export function integrity(db: Database): string {
  return db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all().map((r) => r.integrity_check).join("; ");
}

/** Gap count per conversation: max(seq) minus the number of distinct seqs, summed. */
export function seqGaps(db: Database): number {
  const rows = db
    .query<{ gaps: number }, []>("SELECT max(seq) - count(DISTINCT seq) AS gaps FROM messages GROUP BY conversation_id")
    .all();
  const dupSeq = db
    .query<{ n: number }, []>("SELECT count(*) - count(DISTINCT conversation_id || ':' || seq) AS n FROM messages")
    .get()!.n;
  return rows.reduce((s, r) => s + r.gaps, 0) + dupSeq;
}

export async function openSocket(url: string, token: string, timeoutMs = 5000): Promise<TestSocket> {
  const socket = new TestSocket(new WebSocket(wsUrl(url)));
  const timer = setTimeout(() => socket.ws.close(), timeoutMs);
  try {
    await socket.opened;
    socket.send({ token });
    await socket.waitType("ready", timeoutMs);
    return socket;
  } finally {
    clearTimeout(timer);
  }
}

export const percentile = (values: number[], p: number) => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)}MiB`;

export class Failure extends Error {}
export function check(condition: unknown, message: string, failures: string[]) {
  if (!condition) failures.push(message);
}


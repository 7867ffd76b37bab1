// W4 capacity: many authenticated idle sockets, spread over worker processes on the generator core.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, cpuMeter, GENERATOR_CORE, memory, openFileLimit, pinnedCommand, round, sleep } from "../lib/util";
import type { Target } from "./chat";

export interface W4Params {
  sockets: number;
  workers: number;
  /** Seconds of idle measurement (server CPU with every socket open: pings and timers only). */
  idle: number;
  concurrency: number;
}

interface Worker {
  proc: Bun.Subprocess;
  next(type: string): Promise<any>;
}

function startWorker(wsUrl: string, tokensFile: string, concurrency: number): Worker {
  const waiting = new Map<string, (m: any) => void>();
  const early = new Map<string, any>();
  const proc = Bun.spawn(pinnedCommand([BUN, join(import.meta.dir, "../w4-worker.ts"), wsUrl, tokensFile, String(concurrency)], GENERATOR_CORE), {
    stdio: ["ignore", "inherit", "inherit"],
    ipc(message: any) {
      const w = waiting.get(message.type);
      if (w) {
        waiting.delete(message.type);
        w(message);
      } else early.set(message.type, message);
    },
  });
  return {
    proc,
    next(type) {
      if (early.has(type)) {
        const m = early.get(type);
        early.delete(type);
        return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        waiting.set(type, resolve);
        void proc.exited.then((code) => reject(new Error(`w4 worker exited with ${code} while waiting for ${type}`)));
      });
    },
  };
}

export async function capacity(t: Target, p: W4Params) {
  const dir = mkdtempSync(join(tmpdir(), "bench-w4-"));
  const workers: Worker[] = [];
  try {
    const tokens = Array.from({ length: p.sockets }, (_, i) => t.users[i % t.users.length]!.token);
    await sleep(1000);
    const before = memory(t.pid).rss;
    const perWorker = Math.ceil(p.sockets / p.workers);
    const t0 = performance.now();
    for (let w = 0; w < p.workers; w++) {
      const file = join(dir, `tokens-${w}.json`);
      writeFileSync(file, JSON.stringify(tokens.slice(w * perWorker, (w + 1) * perWorker)));
      workers.push(startWorker(t.wsUrl, file, Math.max(1, Math.floor(p.concurrency / p.workers))));
    }
    const connected = await Promise.all(workers.map((w) => w.next("connected")));
    const wallMs = performance.now() - t0;
    const failures = connected.reduce((n, c) => n + c.failures, 0);
    await sleep(2000);
    const after = memory(t.pid).rss;
    const idle = cpuMeter(t.pid);
    await sleep(p.idle * 1000);
    const idleCpu = idle();
    const reports = await Promise.all(workers.map((w) => (w.proc.send("report"), w.next("report"))));
    const held = reports.reduce((n, r) => n + r.open, 0);
    const closes = reports.reduce((n, r) => n + r.unexpected_closes, 0);
    const result = {
      sockets_requested: p.sockets,
      sockets_connected: p.sockets - failures,
      sockets_held_after_idle: held,
      connect_failures: failures,
      first_failure: connected.find((c) => c.first_failure)?.first_failure ?? null,
      unexpected_closes: closes,
      worker_processes: p.workers,
      connect_all_ms: round(wallMs, 0),
      connects_per_s: round((p.sockets - failures) / (wallMs / 1000), 0),
      rss_before_bytes: before,
      rss_after_bytes: after,
      rss_per_socket_bytes: round((after - before) / Math.max(1, held), 0),
      idle_seconds: p.idle,
      idle_cpu_percent: round(idleCpu.percent, 2),
      server_open_file_limit: openFileLimit(t.pid),
    };
    for (const w of workers) w.proc.send("close");
    await Promise.all(workers.map((w) => w.proc.exited));
    return result;
  } finally {
    for (const w of workers) if (w.proc.exitCode === null) w.proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

// Shared bench plumbing: processes (spawn, pin, /proc sampling, readiness), percentiles and formatting.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const BUN = process.execPath;

let clockTicks = 100;
try {
  const out = Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim();
  if (/^\d+$/.test(out)) clockTicks = Number(out);
} catch {}

/** CPU seconds (user + system, all threads) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** Resident set size in bytes (VmRSS) and its peak (VmHWM). */
export function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

export function openFileLimit(pid: number): string {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    const [soft, hard] = line!.replace("Max open files", "").trim().split(/\s+/);
    return `${soft}/${hard}`;
  } catch {
    return "unknown";
  }
}

/** Measures a process's CPU over a window: call stop() at the end. */
export function cpuMeter(pid: number) {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  return () => {
    const seconds = cpuSeconds(pid) - c0;
    const wall = (performance.now() - t0) / 1000;
    return { seconds, wall, percent: (100 * seconds) / wall };
  };
}

/** Live pids whose command line matches (e.g. one PostgreSQL cluster's processes, found by its port). */
export function pidsMatching(match: (cmdline: string, ppid: number) => boolean): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8").replaceAll("\0", " ");
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (match(cmdline, ppid)) out.push(Number(name));
    } catch {} // gone meanwhile
  }
  return out;
}

/** CPU seconds per named group of processes over a window (processes that exit meanwhile are left out). */
export function partsMeter(parts: () => Record<string, number[]>) {
  const total = (pids: number[]) =>
    pids.reduce((sum, pid) => {
      try {
        return sum + cpuSeconds(pid);
      } catch {
        return sum;
      }
    }, 0);
  const before = Object.fromEntries(Object.entries(parts()).map(([k, pids]) => [k, new Map(pids.map((p) => [p, total([p])]))]));
  return () =>
    Object.fromEntries(
      Object.entries(parts()).map(([k, pids]) => [k, pids.reduce((sum, p) => sum + Math.max(0, total([p]) - (before[k]?.get(p) ?? 0)), 0)]),
    );
}

/** Busy percent of each core over a window (from /proc/stat): shows load from other processes. */
export function coreMeter() {
  const read = () =>
    readFileSync("/proc/stat", "utf8")
      .split("\n")
      .filter((l) => /^cpu\d+ /.test(l))
      .map((l) => {
        const v = l.split(/\s+/).slice(1).map(Number);
        const idle = v[3]! + (v[4] ?? 0);
        return { idle, total: v.slice(0, 8).reduce((a, b) => a + b, 0) };
      });
  const a = read();
  return () =>
    read().map((b, i) => {
      const total = b.total - a[i]!.total;
      return round(total > 0 ? (100 * (total - (b.idle - a[i]!.idle))) / total : 0, 1)!;
    });
}

// ---- core pinning ----

export const hasTaskset = (() => {
  try {
    return Bun.spawnSync(["taskset", "-V"]).exitCode === 0;
  } catch {
    return false;
  }
})();
export const cores = navigator.hardwareConcurrency;
/** BENCH_NO_PIN=1 lets server and generator share all cores (how a small deployment runs). */
export const pinning = hasTaskset && cores >= 2 && !process.env.BENCH_NO_PIN;
/** Server on the last core, generator (this process, wrk, workers) on core 0. */
export const SERVER_CORE = cores - 1;
export const GENERATOR_CORE = 0;

/** Pins every thread of a running process to one core (threads it starts later inherit it). */
export function pin(pid: number, core: number) {
  if (!pinning) return;
  const r = Bun.spawnSync(["taskset", "-a", "-p", "-c", String(core), String(pid)]);
  if (r.exitCode !== 0) throw new Error(`taskset failed for ${pid}: ${r.stderr.toString()}`);
}

/** Every core again (setup phases such as argon2 signups use both). */
export function unpin(pid: number) {
  if (!pinning) return;
  Bun.spawnSync(["taskset", "-a", "-p", "-c", `0-${cores - 1}`, String(pid)]);
}

export const pinnedCommand = (cmd: string[], core: number) => (pinning ? ["taskset", "-c", String(core), ...cmd] : cmd);

// ---- processes ----

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface Proc {
  pid: number;
  proc: Bun.Subprocess;
  stderrTail(): string;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

/** Spawns a server process, keeping the last few KB of its stderr for error reports. */
export function spawnProc(cmd: string[], options: { env?: Record<string, string | undefined>; cwd?: string } = {}): Proc {
  const proc = Bun.spawn(cmd, { stdout: "ignore", stderr: "pipe", stdin: "ignore", env: { ...process.env, ...options.env }, cwd: options.cwd });
  let tail = "";
  void (async () => {
    const decoder = new TextDecoder();
    const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      tail = (tail + decoder.decode(value)).slice(-4000);
    }
  })().catch(() => {});
  return {
    pid: proc.pid,
    proc,
    stderrTail: () => tail,
    async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
      const code = await proc.exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Polls GET url until it answers 200; returns the milliseconds since `since`. */
export async function waitReady(url: string, proc: Proc | null, since = performance.now(), timeoutMs = 30_000): Promise<number> {
  for (;;) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - since;
    } catch {}
    if (proc && proc.proc.exitCode !== null) throw new Error(`process exited with ${proc.proc.exitCode} before ready:\n${proc.stderrTail()}`);
    if (performance.now() - since > timeoutMs) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await sleep(1);
  }
}

// ---- statistics ----

/** Latency samples in milliseconds. */
export class Samples {
  private values: number[] = [];
  add(v: number) {
    this.values.push(v);
  }
  get count() {
    return this.values.length;
  }
  summary() {
    const sorted = Float64Array.from(this.values).sort();
    const at = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN);
    return { count: sorted.length, p50: round(at(50)), p90: round(at(90)), p99: round(at(99)), p99_9: round(at(99.9)), max: round(sorted.length ? sorted[sorted.length - 1]! : NaN) };
  }
}

export const round = (v: number, digits = 3) => (Number.isFinite(v) ? Number(v.toFixed(digits)) : null);

export function machineInfo() {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(existsSync("/proc/meminfo") ? readFileSync("/proc/meminfo", "utf8") : "")?.[1] ?? 0);
  const git = (args: string[]) => Bun.spawnSync(["git", ...args]).stdout.toString().trim();
  const dirty = git(["status", "--porcelain", "--untracked-files=no", "--", "src"]) !== "";
  return {
    nproc: cores,
    cpu_model: model,
    memory_gib: round(memKb / 1024 / 1024, 1),
    kernel: Bun.spawnSync(["uname", "-r"]).stdout.toString().trim(),
    bun: Bun.version,
    git_commit: git(["rev-parse", "HEAD"]),
    git_src_dirty: dirty,
    load_average_at_start: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
  };
}

export const fmtBytes = (b: number) =>
  b >= 1024 * 1024 * 1024 ? `${(b / 1024 ** 3).toFixed(2)} GiB` : b >= 1024 * 1024 ? `${(b / 1024 ** 2).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`;

export function log(...parts: unknown[]) {
  const t = new Date().toISOString().slice(11, 19);
  console.log(`[${t}]`, ...parts);
}

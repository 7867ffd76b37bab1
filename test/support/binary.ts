// Helpers for tests of the compiled executable: find or build it once, copy it into an empty
// folder, pick a free port, run it there and wait for /health, and stop it with a signal.
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

export const ROOT = resolve(import.meta.dir, "../..");

let built: Promise<string> | undefined;

// Builds go to <tmp>/chat-server-test-builds/<pid>. bun test fires no exit hook, so each run instead
// removes the folders of runs whose process is gone (~110 MB each).
const BUILDS = join(tmpdir(), "chat-server-test-builds");

function sweepFinishedBuilds() {
  for (const name of existsSync(BUILDS) ? readdirSync(BUILDS) : []) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ESRCH") rmSync(join(BUILDS, name), { recursive: true, force: true });
    }
  }
}

/**
 * The executable under test: $CHAT_BINARY when set (CI builds it first), else built once per test
 * process with `bun run build` into a temporary path, so a bare `bun test` exercises it too.
 */
export function binaryPath(): Promise<string> {
  return (built ??= (async () => {
    const given = process.env.CHAT_BINARY;
    if (given) {
      const path = resolve(ROOT, given);
      if (!existsSync(path)) throw new Error(`CHAT_BINARY=${given} does not exist (run \`bun run build\` first)`);
      return path;
    }
    sweepFinishedBuilds();
    const dir = join(BUILDS, String(process.pid));
    mkdirSync(dir, { recursive: true });
    const out = join(dir, "chat-server");
    const proc = Bun.spawn([process.execPath, "run", "build", out], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    if (code !== 0 || !existsSync(out)) throw new Error(`bun run build failed (${code}):\n${stdout}\n${stderr}`);
    return out;
  })());
}

/** A port nobody listens on right now: bind port 0, read it, release it. */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** Copies the binary into a fresh empty folder; returns the folder and the copy's path. */
export async function installInEmptyDir(prefix = "chat-bin-"): Promise<{ dir: string; bin: string; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const bin = join(dir, "chat-server");
  copyFileSync(await binaryPath(), bin);
  chmodSync(bin, 0o755);
  return { dir, bin, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The environment with every CHAT_* setting (and PORT) removed, so only what a test passes applies. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("CHAT_") && k !== "PORT") env[k] = v;
  }
  return { ...env, ...extra };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the binary to completion (for --help, --version, migrate, bad flags). */
export async function runToExit(bin: string, args: string[], options: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<RunResult> {
  const proc = Bun.spawn([bin, ...args], { cwd: options.cwd, env: cleanEnv(options.env), stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 20_000);
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export interface RunningBinary {
  url: string;
  port: number;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything the process wrote so far (stdout then stderr), for failure messages. */
  output(): string;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/** Starts `bin` in `cwd` with `--port <free port>` (plus `args`) and waits until /health answers. */
export async function startBinary(bin: string, options: { cwd: string; args?: string[]; env?: Record<string, string>; readyTimeoutMs?: number }): Promise<RunningBinary> {
  const port = await freePort();
  const proc = Bun.spawn([bin, "--port", String(port), ...(options.args ?? [])], {
    cwd: options.cwd,
    env: cleanEnv(options.env),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  let err = "";
  const drain = async (stream: ReadableStream<Uint8Array>, append: (s: string) => void) => {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      append(decoder.decode(value, { stream: true }));
    }
  };
  const drained = Promise.all([drain(proc.stdout, (s) => (out += s)), drain(proc.stderr, (s) => (err += s))]);
  const output = () => `--- stdout\n${out}\n--- stderr\n${err}`;
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  let exited: number | null = null;
  proc.exited.then((code) => (exited = code));
  for (;;) {
    if (exited !== null) throw new Error(`the binary exited with ${exited} before /health answered\n${output()}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.status === 200) break;
    } catch {}
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`/health did not answer on port ${port}\n${output()}`);
    }
    await Bun.sleep(50);
  }
  return {
    url,
    port,
    proc,
    output,
    async stop(signal = "SIGTERM") {
      if (exited === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      const code = await proc.exited;
      clearTimeout(timer);
      await drained;
      return code;
    },
  };
}

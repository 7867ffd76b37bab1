// second-server: a second `serve` on a data directory a server already uses must refuse to start
// (exit 2, naming the directory and the first server's PID) while the first keeps serving; after the
// first dies by kill -9 the lock is gone with it and a new server starts at once.
import { client } from "../support/api";
import { freePort } from "../support/binary";
import { BINARY, BinaryServer } from "./lib";
import type { ScenarioResult } from "./run";

/** Runs `serve` on `dataDir` until it exits (killed after 15 s: a second server that started). */
export async function spawnServe(dataDir: string, env: Record<string, string | undefined> = process.env) {
  const t0 = performance.now();
  const proc = Bun.spawn([BINARY, "serve", "--port", String(freePort()), "--host", "127.0.0.1", "--data-dir", dataDir, "--log-level", "warn"], {
    env,
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
  const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  clearTimeout(timer);
  return { code, message: stderr.trim().split("\n").at(-1) ?? "", ms: Math.round(performance.now() - t0) };
}

export async function secondServer(_quick: boolean): Promise<ScenarioResult> {
  const failures: string[] = [];
  const first = new BinaryServer();
  try {
    await first.start();
    const api = client(first.url);
    const alice = await api.newUser("lock");
    const second = await spawnServe(first.dataDir);
    if (second.code !== 2) failures.push(`second server exited with ${second.code}, expected 2: ${second.message}`);
    if (!second.message.includes(first.dataDir) || !second.message.includes(`PID ${first.pid}`)) {
      failures.push(`the refusal does not name the directory and PID ${first.pid}: ${second.message}`);
    }
    const me = await api.get("/api/v1/auth/me", alice.token);
    if (me.status !== 200) failures.push(`the first server answered ${me.status} after the refusal`);
    await first.kill("SIGKILL");
    const restartMs = Math.round(await first.start());
    return {
      line: `second server: exit ${second.code} after ${second.ms} ms ("${second.message.replace(/^chat-server: /, "").slice(0, 90)}…"); first kept serving; new server ${restartMs} ms after kill -9 of the first`,
      failures,
    };
  } finally {
    await first.kill("SIGKILL");
    first.cleanup();
  }
}

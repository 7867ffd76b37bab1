// (6) Contention and backup: while REST and socket traffic flows, another process holds SQLite's write
// lock (BEGIN IMMEDIATE) for 2 s, then a live `chat-server backup` is taken. No 5xx and no "database is
// locked" may reach a client; the backup must pass integrity_check and hold every message acked before it.
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { client } from "../support/api";
import { BINARY, BinaryServer, integrity, openSocket, percentile, users } from "./lib";
import type { ScenarioResult } from "./run";

export async function contention(quick: boolean): Promise<ScenarioResult> {
  const failures: string[] = [];
  const server = new BinaryServer();
  await server.start();
  const api = client(server.url);
  const [a, b] = await users(api, 2, "lock");
  const group = (await api.group(a!.token, "contention", [b!.user.id])).body.id as string;

  const acked = new Set<string>();
  const statuses = new Map<number, number>();
  let lockedLeaks = 0;
  let socketErrors = 0;
  const socketErrorCodes = new Map<string, number>();
  const statusByRoute = new Map<string, number>();
  let stop = false;
  let lockHeld = false;
  const latencies: number[] = [];
  const lockLatencies: number[] = [];
  const note = (status: number, text: string, ms: number, during: boolean) => {
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    if (/locked|SQLITE_BUSY/i.test(text)) lockedLeaks++;
    (during ? lockLatencies : latencies).push(ms);
  };
  const writer = async (n: number) => {
    for (let i = 0; !stop; i++) {
      const id = `w${n}-${i}`;
      const during = lockHeld;
      const t = performance.now();
      const res = await fetch(`${server.url}/api/v1/conversations/${group}/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${a!.token}`, "content-type": "application/json" },
        body: JSON.stringify({ content: id, client_msg_id: id }),
      });
      const text = await res.text();
      note(res.status, text, performance.now() - t, during || lockHeld);
      if (res.status >= 500) statusByRoute.set(`POST ${res.status}`, (statusByRoute.get(`POST ${res.status}`) ?? 0) + 1);
      if (res.status === 201) acked.add(JSON.parse(text).id);
    }
  };
  const reader = async () => {
    while (!stop) {
      const during = lockHeld;
      const t = performance.now();
      const res = await fetch(`${server.url}/api/v1/conversations/${group}/messages?limit=20`, { headers: { authorization: `Bearer ${b!.token}` } });
      note(res.status, await res.text(), performance.now() - t, during || lockHeld);
      if (res.status >= 500) statusByRoute.set(`GET ${res.status}`, (statusByRoute.get(`GET ${res.status}`) ?? 0) + 1);
      await Bun.sleep(5);
    }
  };
  const socket = await openSocket(server.url, b!.token);
  socket.ws.addEventListener("message", (event) => {
    const f = JSON.parse(String(event.data));
    if (f.type === "message_ack") acked.add(f.message.id);
    if (f.type === "error") {
      socketErrors++;
      socketErrorCodes.set(f.code, (socketErrorCodes.get(f.code) ?? 0) + 1);
      if (/locked|SQLITE_BUSY/i.test(f.detail)) lockedLeaks++;
    }
  });
  const socketWriter = async () => {
    for (let i = 0; !stop; i++) {
      socket.send({ type: "message", conversation_id: group, content: `s${i}`, client_msg_id: `s${i}` });
      socket.frames.length = 0;
      await Bun.sleep(10);
    }
  };
  const load = [writer(0), writer(1), writer(2), reader(), reader(), socketWriter()];

  await Bun.sleep(1_000);
  // Another process's connection takes the write lock and sits on it.
  const other = new Database(server.dbPath);
  other.run("PRAGMA busy_timeout = 5000");
  other.run("BEGIN IMMEDIATE");
  lockHeld = true;
  await Bun.sleep(2_000);
  other.run("COMMIT");
  lockHeld = false;
  other.close();
  await Bun.sleep(quick ? 500 : 2_000);

  // Live backup while traffic keeps flowing.
  let backupLine = "backup=skipped (no backup command)";
  const help = Bun.spawnSync([BINARY, "--help"]).stdout.toString();
  if (/^\s+backup\b/m.test(help)) {
    const snapshot = new Set(acked);
    const target = join(server.dataDir, "live-backup.db");
    const t = performance.now();
    const run = Bun.spawn([BINARY, "backup", target, "--data-dir", server.dataDir], { stdout: "pipe", stderr: "pipe" });
    const code = await run.exited;
    const ms = performance.now() - t;
    if (code !== 0) {
      failures.push(`backup exited ${code}: ${await new Response(run.stderr as ReadableStream).text()}`);
      backupLine = `backup=failed(${code})`;
    } else {
      const copy = new Database(target, { readonly: true });
      const verdict = integrity(copy);
      const has = copy.query<{ n: number }, [string]>("SELECT count(*) AS n FROM messages WHERE id = ?");
      let missing = 0;
      for (const id of snapshot) if (has.get(id)!.n !== 1) missing++;
      const rows = copy.query<{ n: number }, []>("SELECT count(*) AS n FROM messages").get()!.n;
      copy.close();
      if (verdict !== "ok") failures.push(`backup integrity_check: ${verdict}`);
      if (missing) failures.push(`backup misses ${missing} messages acknowledged before it started`);
      backupLine = `backup: ms=${ms.toFixed(0)} rows=${rows} acked_before=${snapshot.size} missing=${missing} integrity=${verdict}`;
    }
  }
  stop = true;
  await Promise.all(load);
  socket.close();
  await server.kill("SIGTERM");
  server.cleanup();

  const fivexx = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
  // Formerly a bug (deferred transactions failed at once under a foreign lock); the writer now takes
  // the lock at BEGIN IMMEDIATE and retries off the event loop. CI runs with --strict, so a 503 or an
  // internal_error frame here fails the run; without --strict it is reported as KNOWN.
  const known: string[] = [];
  const postBusy = statusByRoute.get("POST 503") ?? 0;
  if (postBusy) known.push(`writer: ${postBusy} sends answered 503 busy while another process held the write lock`);
  if (fivexx - postBusy) failures.push(`${fivexx - postBusy} other 5xx responses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  const socketInternal = socketErrorCodes.get("internal_error") ?? 0;
  if (socketInternal) known.push(`writer: ${socketInternal} socket sends got an internal_error frame while the lock was held`);
  if (socketErrors - socketInternal) failures.push(`${socketErrors - socketInternal} other socket error frames`);
  if (lockedLeaks) failures.push(`${lockedLeaks} responses mentioned the lock`);
  return {
    known,
    line: `requests=${[...statuses.values()].reduce((s, n) => s + n, 0)} statuses=${JSON.stringify(Object.fromEntries(statuses))} locked_leaks=${lockedLeaks} socket_errors=${JSON.stringify(Object.fromEntries(socketErrorCodes))} 5xx_by_route=${JSON.stringify(Object.fromEntries(statusByRoute))} latency_ms p50=${percentile(latencies, 50).toFixed(0)} during_lock p50=${percentile(lockLatencies, 50).toFixed(0)} max=${Math.max(0, ...lockLatencies).toFixed(0)} ${backupLine}`,
    failures,
  };
}

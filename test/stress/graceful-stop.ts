// (5) Graceful stop: SIGTERM under REST and socket load. In-flight requests finish, sockets close with
// 1001, the process exits 0 within 5 s after checkpointing, and every acknowledged message is on disk.
import { existsSync, statSync } from "node:fs";
import { client } from "../support/api";
import type { TestSocket } from "../support/socket";
import { BinaryServer, integrity, openSocket, users } from "./lib";
import type { ScenarioResult } from "./run";

export async function gracefulStop(quick: boolean): Promise<ScenarioResult> {
  const failures: string[] = [];
  const server = new BinaryServer();
  await server.start();
  const api = client(server.url);
  const [a, b] = await users(api, 2, "term");
  const group = (await api.group(a!.token, "shutdown", [b!.user.id])).body.id as string;

  const acked = new Map<string, string>();
  const statuses = new Map<number, number>();
  let failedRequests = 0;
  let down = false;
  const closeCodes = new Map<number, number>();

  const restLoop = async (n: number) => {
    for (let i = 0; !down; i++) {
      const id = `rest${n}-${i}`;
      try {
        const res = await fetch(`${server.url}/api/v1/conversations/${group}/messages`, {
          method: "POST",
          headers: { authorization: `Bearer ${a!.token}`, "content-type": "application/json" },
          body: JSON.stringify({ content: id, client_msg_id: id }),
        });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 201 || res.status === 200) acked.set(id, (await res.json()).id);
      } catch {
        failedRequests++;
        down = true;
      }
    }
  };
  const socketLoop = async (s: TestSocket, n: number) => {
    s.ws.addEventListener("message", (event) => {
      const f = JSON.parse(String(event.data));
      if (f.type === "message_ack") acked.set(f.client_msg_id, f.message.id);
    });
    for (let i = 0; !s.closed; i++) {
      const id = `ws${n}-${i}`;
      s.send({ type: "message", conversation_id: group, content: id, client_msg_id: id });
      s.frames.length = 0;
      await Bun.sleep(2);
    }
    closeCodes.set(s.closed!.code, (closeCodes.get(s.closed!.code) ?? 0) + 1);
  };
  const sockets = await Promise.all(Array.from({ length: 6 }, (_, i) => openSocket(server.url, i % 2 ? a!.token : b!.token)));
  const load = [...Array.from({ length: 4 }, (_, i) => restLoop(i)), ...sockets.map((s, i) => socketLoop(s, i))];

  await Bun.sleep(quick ? 1_500 : 4_000);
  const t0 = performance.now();
  const proc = server.proc!;
  proc.kill("SIGTERM");
  const exitCode = await proc.exited;
  const exitMs = performance.now() - t0;
  server.proc = null;
  down = true;
  await Promise.race([Promise.all(load), Bun.sleep(5_000)]);
  for (const s of sockets) if (!s.closed) closeCodes.set(-1, (closeCodes.get(-1) ?? 0) + 1);

  const walBytes = existsSync(server.dbPath + "-wal") ? statSync(server.dbPath + "-wal").size : 0;
  const db = server.openDb();
  let lost = 0;
  const byId = db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM messages WHERE id = ?");
  for (const id of acked.values()) if (byId.get(id)!.n !== 1) lost++;
  const verdict = integrity(db);
  db.close();
  server.cleanup();

  const fivexx = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
  const non1001 = [...closeCodes].filter(([c]) => c !== 1001).reduce((n, [, c]) => n + c, 0);
  if (exitCode !== 0) failures.push(`exit code ${exitCode}`);
  if (exitMs > 5_000) failures.push(`took ${exitMs.toFixed(0)} ms to exit`);
  if (lost) failures.push(`${lost} acknowledged messages lost`);
  if (fivexx) failures.push(`${fivexx} 5xx responses`);
  if (non1001) failures.push(`${non1001} sockets not closed with 1001: ${JSON.stringify([...closeCodes])}`);
  if (verdict !== "ok") failures.push(`integrity_check: ${verdict}`);
  return {
    line: `acked=${acked.size} lost=${lost} exit_code=${exitCode} exit_ms=${exitMs.toFixed(0)} socket_close_codes=${JSON.stringify(Object.fromEntries(closeCodes))} statuses=${JSON.stringify(Object.fromEntries(statuses))} requests_refused_after_stop=${failedRequests} wal_after_exit=${walBytes}B integrity=${verdict}`,
    failures,
  };
}

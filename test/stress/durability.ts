// (1) Crash durability: REST and socket senders with unique client_msg_ids while the server is
// SIGKILLed every few seconds and restarted at once; unacknowledged sends are retried with the same id.
// Every acknowledged message must be stored exactly once, seq gap-free, integrity_check ok.
import { client, type TestUser } from "../support/api";
import type { TestSocket } from "../support/socket";
import { BinaryServer, integrity, openSocket, percentile, seqGaps, users } from "./lib";
import type { ScenarioResult } from "./run";

interface Ack {
  id: string;
  seq: number;
  conversationId: string;
}

export async function durability(quick: boolean): Promise<ScenarioResult> {
  const failures: string[] = [];
  const server = new BinaryServer();
  await server.start();
  const api = client(server.url);
  const [a, b, c] = await users(api, 3, "dur");
  const dm = (await api.dm(a!.token, b!.user.id)).body.id as string;
  const group = (await api.group(a!.token, "durability", [b!.user.id, c!.user.id])).body.id as string;

  const acks = new Map<string, Ack>();
  let ackMismatches = 0;
  let retries = 0;
  let serverErrors = 0;
  let stop = false;
  const record = (clientMsgId: string, m: { id: string; seq: number; conversation_id: string }) => {
    const prior = acks.get(clientMsgId);
    if (prior && prior.id !== m.id) ackMismatches++;
    acks.set(clientMsgId, { id: m.id, seq: m.seq, conversationId: m.conversation_id });
  };

  async function restSender(name: string, user: TestUser, conversationId: string) {
    for (let i = 0; !stop; i++) {
      const id = `${name}-${i}`;
      for (let attempt = 0; ; attempt++) {
        if (attempt) retries++;
        try {
          const res = await fetch(`${server.url}/api/v1/conversations/${conversationId}/messages`, {
            method: "POST",
            headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
            body: JSON.stringify({ content: `durable ${id}`, client_msg_id: id }),
            signal: AbortSignal.timeout(5000),
          });
          if (res.status >= 500) serverErrors++;
          if (res.status === 200 || res.status === 201) {
            record(id, await res.json());
            break;
          }
        } catch {}
        await Bun.sleep(20);
      }
    }
  }

  async function socketSender(name: string, user: TestUser, conversationId: string) {
    let socket: TestSocket | null = null;
    for (let i = 0; !stop; i++) {
      const id = `${name}-${i}`;
      for (let attempt = 0; ; attempt++) {
        if (attempt) retries++;
        try {
          if (!socket || socket.closed) socket = await openSocket(server.url, user.token, 3000);
          const from = socket.frames.length;
          socket.send({ type: "message", conversation_id: conversationId, content: `durable ${id}`, client_msg_id: id });
          const reply = await socket.waitFor((f) => (f.type === "message_ack" || f.type === "error") && (f.client_msg_id === id || f.ref === id), 5000, from);
          if (reply.type === "message_ack") {
            record(id, reply.message);
            // Keep the frame log short: the receiver side is not under test here.
            socket.frames.length = 0;
            break;
          }
          if (reply.code === "internal_error") serverErrors++;
        } catch {
          socket?.ws.close();
          socket = null;
        }
        await Bun.sleep(20);
      }
    }
    socket?.close();
  }

  const senders = quick ? 2 : 4;
  const tasks: Promise<void>[] = [];
  for (let s = 0; s < senders; s++) {
    const [user, conv] = s % 2 === 0 ? [a!, group] : [b!, dm];
    tasks.push(restSender(`rest${s}`, user, conv));
    tasks.push(socketSender(`ws${s}`, s % 2 === 0 ? c! : a!, s % 2 === 0 ? group : dm));
  }

  const durationMs = quick ? 8_000 : 30_000;
  const restartMs: number[] = [];
  let kills = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < durationMs) {
    await Bun.sleep(1_500 + Math.random() * 1_500);
    await server.kill("SIGKILL");
    kills++;
    restartMs.push(await server.start());
  }
  stop = true;
  await Promise.race([Promise.all(tasks), Bun.sleep(30_000).then(() => failures.push("senders did not finish within 30 s"))]);
  await server.kill("SIGTERM");

  const db = server.openDb();
  const stored = new Map<string, { id: string; seq: number }[]>();
  for (const row of db
    .query<{ id: string; seq: number; conversation_id: string; client_msg_id: string }, []>("SELECT id, seq, conversation_id, client_msg_id FROM messages")
    .all()) {
    const key = `${row.conversation_id}/${row.client_msg_id}`;
    stored.set(key, [...(stored.get(key) ?? []), row]);
  }
  let lost = 0;
  for (const [clientMsgId, ack] of acks) {
    const rows = stored.get(`${ack.conversationId}/${clientMsgId}`) ?? [];
    if (rows.length === 0 || rows[0]!.id !== ack.id || rows[0]!.seq !== ack.seq) lost++;
  }
  const duplicated =
    db.query<{ n: number }, []>("SELECT count(*) - count(DISTINCT conversation_id || sender_id || client_msg_id) AS n FROM messages").get()!.n +
    db.query<{ n: number }, []>("SELECT count(*) - count(DISTINCT content) AS n FROM messages").get()!.n;
  const gaps = seqGaps(db);
  const storedCount = db.query<{ n: number }, []>("SELECT count(*) AS n FROM messages").get()!.n;
  const verdict = integrity(db);
  db.close();
  server.cleanup();

  if (lost) failures.push(`${lost} acknowledged messages lost`);
  if (duplicated) failures.push(`${duplicated} duplicated messages`);
  if (gaps) failures.push(`${gaps} seq gaps`);
  if (ackMismatches) failures.push(`${ackMismatches} client_msg_ids acknowledged with two different messages`);
  if (verdict !== "ok") failures.push(`integrity_check: ${verdict}`);
  if (kills === 0) failures.push("no kill happened");
  if (acks.size === 0) failures.push("nothing was acknowledged");
  return {
    line: `acked=${acks.size} stored=${storedCount} lost=${lost} duplicated=${duplicated} gaps=${gaps} kills=${kills} retries=${retries} 5xx=${serverErrors} restart_to_healthy_ms p50=${percentile(restartMs, 50).toFixed(0)} max=${Math.max(...restartMs).toFixed(0)} integrity=${verdict}`,
    failures,
  };
}

// (2) Idempotency under races: one client_msg_id sent at once over REST (several times) and over two
// sockets of the same sender: one row, the same message to every attempt, one new_message per receiver.
import { client } from "../support/api";
import { BinaryServer, openSocket, users } from "./lib";
import type { ScenarioResult } from "./run";

export async function idempotency(quick: boolean): Promise<ScenarioResult> {
  const failures: string[] = [];
  const server = new BinaryServer();
  await server.start();
  const api = client(server.url);
  const [sender, r1, r2] = await users(api, 3, "idem");
  const group = (await api.group(sender!.token, "races", [r1!.user.id, r2!.user.id])).body.id as string;
  const senderSockets = [await openSocket(server.url, sender!.token), await openSocket(server.url, sender!.token)];
  const receivers = [await openSocket(server.url, r1!.token), await openSocket(server.url, r2!.token), await openSocket(server.url, r2!.token)];

  const rounds = quick ? 30 : 200;
  let split = 0;
  let statusMix = 0;
  for (let i = 0; i < rounds; i++) {
    const id = `race-${i}-${crypto.randomUUID()}`;
    const content = `race ${i}`;
    const rest = Array.from({ length: 3 }, () => api.send(sender!.token, group, content, id));
    const viaSocket = senderSockets.map(async (s) => {
      const from = s.frames.length;
      s.send({ type: "message", conversation_id: group, content, client_msg_id: id });
      return (await s.waitFor((f) => f.type === "message_ack" && f.client_msg_id === id, 10_000, from)).message;
    });
    const restResults = await Promise.all(rest);
    const messages = [...restResults.map((r) => r.body), ...(await Promise.all(viaSocket))];
    if (new Set(messages.map((m) => m.id)).size !== 1) split++;
    // Exactly one REST 201 at most; the others 200 (the socket may have won).
    if (restResults.filter((r) => r.status === 201).length > 1 || restResults.some((r) => r.status !== 200 && r.status !== 201)) statusMix++;
  }
  // Let the last events arrive, then count per receiver socket.
  const lastSeq = (await api.get(`/api/v1/conversations/${group}/messages?limit=1`, sender!.token)).body[0].seq as number;
  const everySocket = [...receivers, ...senderSockets];
  for (const s of everySocket) await s.waitFor((f) => f.type === "new_message" && f.message.seq === lastSeq, 10_000).catch(() => {});
  await Bun.sleep(200);
  let wrongDeliveries = 0;
  for (const s of everySocket) {
    const counts = new Map<string, number>();
    for (const f of s.ofType("new_message")) counts.set(f.message.id, (counts.get(f.message.id) ?? 0) + 1);
    if (counts.size !== rounds || [...counts.values()].some((n) => n !== 1)) wrongDeliveries++;
  }
  for (const s of everySocket) s.close();
  await server.kill("SIGTERM");
  const db = server.openDb();
  const rows = db.query<{ n: number }, []>("SELECT count(*) AS n FROM messages").get()!.n;
  db.close();
  server.cleanup();

  if (rows !== rounds) failures.push(`${rows} rows for ${rounds} client_msg_ids`);
  if (split) failures.push(`${split} rounds returned different messages to different attempts`);
  if (statusMix) failures.push(`${statusMix} rounds with more than one 201 or an unexpected status`);
  if (wrongDeliveries) failures.push(`${wrongDeliveries} sockets did not get exactly one new_message per message`);
  return {
    line: `rounds=${rounds} attempts_per_round=5 (3 REST + 2 sockets) rows=${rows} split_results=${split} sockets_with_wrong_delivery=${wrongDeliveries}/${everySocket.length}`,
    failures,
  };
}

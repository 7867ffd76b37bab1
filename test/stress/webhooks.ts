// Webhook outbox under crashes: REST senders with unique client_msg_ids while the server is SIGKILLed
// every few seconds and restarted, a local receiver subscribed to message.created. After a clean
// final run every stored message must have been delivered at least once, nothing delivered that is
// not stored, one event id per message across redeliveries, and each conversation's first
// deliveries in seq order.
import { client } from "../support/api";
import { startReceiver, unique } from "../webhooks/receiver";
import { BINARY, BinaryServer, users } from "./lib";
import type { ScenarioResult } from "./run";

export async function webhooks(quick: boolean): Promise<ScenarioResult> {
  const failures: string[] = [];
  const receiver = startReceiver();
  const server = new BinaryServer(undefined, ["--rate-limit", "false", "--webhook-allow-private", "true"]);
  const add = Bun.spawnSync([BINARY, "webhook", "add", "--data-dir", server.dataDir, "--url", receiver.url, "--events", "message.created", "--webhook-allow-private", "true"]);
  if (add.exitCode !== 0) throw new Error(`webhook add failed: ${add.stderr}`);
  await server.start();
  const api = client(server.url);
  const [a, b, c] = await users(api, 3, "hook");
  const dm = (await api.dm(a!.token, b!.user.id)).body.id as string;
  const group = (await api.group(a!.token, "hooks", [b!.user.id, c!.user.id])).body.id as string;

  let stop = false;
  let acked = 0;
  async function sender(name: string, token: string, conversationId: string) {
    for (let i = 0; !stop; i++) {
      const id = `${name}-${i}`;
      for (;;) {
        try {
          const res = await fetch(`${server.url}/api/v1/conversations/${conversationId}/messages`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify({ content: `hooked ${id}`, client_msg_id: id }),
            signal: AbortSignal.timeout(5000),
          });
          if (res.status === 200 || res.status === 201) {
            acked++;
            break;
          }
        } catch {}
        await Bun.sleep(20);
      }
    }
  }
  const tasks = [sender("a", a!.token, group), sender("b", b!.token, dm), sender("c", c!.token, group)];
  const durationMs = quick ? 8_000 : 30_000;
  let kills = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < durationMs) {
    await Bun.sleep(1_500 + Math.random() * 1_500);
    await server.kill("SIGKILL");
    kills++;
    await server.start();
  }
  stop = true;
  await Promise.race([Promise.all(tasks), Bun.sleep(30_000).then(() => failures.push("senders did not finish within 30 s"))]);

  const db = server.openDb();
  const stored = db.query<{ id: string; conversation_id: string; seq: number }, []>("SELECT id, conversation_id, seq FROM messages").all();
  db.close();
  const storedIds = new Set(stored.map((m) => m.id));
  const deadline = Date.now() + 60_000;
  while (new Set(receiver.deliveries.map((d) => d.data?.id)).size < storedIds.size && Date.now() < deadline) await Bun.sleep(100);
  await server.kill("SIGTERM");
  receiver.close();

  const delivered = new Set(receiver.deliveries.map((d) => d.data?.id as string));
  const missing = [...storedIds].filter((id) => !delivered.has(id)).length;
  const invented = [...delivered].filter((id) => !storedIds.has(id)).length;
  const eventOf = new Map<string, string>();
  let idMismatches = 0;
  for (const d of receiver.deliveries) {
    const prior = eventOf.get(d.id);
    if (prior !== undefined && prior !== d.data.id) idMismatches++;
    eventOf.set(d.id, d.data.id);
  }
  let outOfOrder = 0;
  const lastSeq = new Map<string, number>();
  for (const d of unique(receiver.deliveries)) {
    const conv = d.data.conversation_id as string;
    if ((lastSeq.get(conv) ?? 0) > d.data.seq) outOfOrder++;
    lastSeq.set(conv, d.data.seq);
  }
  const duplicates = receiver.deliveries.length - unique(receiver.deliveries).length;
  server.cleanup();

  if (missing) failures.push(`${missing} stored messages never delivered`);
  if (invented) failures.push(`${invented} deliveries of messages that are not stored`);
  if (idMismatches) failures.push(`${idMismatches} event ids reused for another message`);
  if (outOfOrder) failures.push(`${outOfOrder} first deliveries out of seq order`);
  if (kills === 0) failures.push("no kill happened");
  if (stored.length === 0) failures.push("nothing was stored");
  return {
    line: `acked=${acked} stored=${stored.length} delivered=${delivered.size} missing=${missing} invented=${invented} duplicates=${duplicates} out_of_order=${outOfOrder} kills=${kills}`,
    failures,
  };
}

// (4) Slow consumer: one client stops reading (its TCP socket is paused) while a sender floods a group
// with large messages. Healthy receivers must get everything, server memory must stay bounded, the slow
// client must be closed, and a fresh socket for that user must recover the full history with `sync`.
import { client } from "../support/api";
import { PausableSocket } from "../support/socket";
import { BinaryServer, mb, openSocket, percentile, users } from "./lib";
import type { ScenarioResult } from "./run";

export async function slowConsumer(quick: boolean): Promise<ScenarioResult> {
  const failures: string[] = [];
  const server = new BinaryServer();
  await server.start();
  const api = client(server.url);
  const [sender, healthy1, healthy2, slowUser] = await users(api, 4, "slow");
  const group = (await api.group(sender!.token, "firehose", [healthy1!.user.id, healthy2!.user.id, slowUser!.user.id])).body.id as string;

  const slow = new PausableSocket(server.port);
  await slow.until(() => slow.handshake !== null);
  slow.send(JSON.stringify({ token: slowUser!.token }));
  await slow.waitReady();
  slow.pause();

  const healthy = [await openSocket(server.url, healthy1!.token), await openSocket(server.url, healthy2!.token)];
  const latencies: number[] = [];
  const sentAt = new Map<number, number>();
  for (const h of healthy) {
    h.ws.addEventListener("message", (event) => {
      const f = JSON.parse(String(event.data));
      if (f.type === "new_message") {
        const t = sentAt.get(Number(f.message.client_msg_id));
        if (t !== undefined) latencies.push(performance.now() - t);
      }
    });
  }
  const out = await openSocket(server.url, sender!.token);
  const total = quick ? 3_000 : 8_000;
  const body = "x".repeat(3_900);
  let peakRss = server.figures().rss;
  const baseRss = peakRss;
  const sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, server.figures().rss);
    } catch {}
  }, 100);
  let slowClosedAt = -1;
  for (let i = 0; i < total; i += 50) {
    const from = out.frames.length;
    for (let k = i; k < Math.min(total, i + 50); k++) {
      sentAt.set(k, performance.now());
      out.send({ type: "message", conversation_id: group, content: `${k} ${body}`, client_msg_id: String(k) });
    }
    const last = String(Math.min(total, i + 50) - 1);
    await out.waitFor((f) => f.type === "message_ack" && f.client_msg_id === last, 20_000, from);
    out.frames.length = 0;
    for (const h of healthy) h.frames.length = 0;
    if (slowClosedAt < 0 && slow.ended) slowClosedAt = i;
  }
  // Healthy receivers get everything.
  const deadline = performance.now() + 20_000;
  while (latencies.length < total * healthy.length && performance.now() < deadline) await Bun.sleep(20);
  clearInterval(sampler);
  const delivered = latencies.length;
  // Was the slow one cut off? Resume reading to see what the server did.
  slow.resume();
  const closeDeadline = performance.now() + 5_000;
  while (!slow.ended && slow.closeCode === null && performance.now() < closeDeadline) await Bun.sleep(20);
  const slowFrames = slow.framesRead;
  const slowOutcome = slow.closeCode !== null ? `close ${slow.closeCode}` : slow.ended ? "connection dropped (no close frame)" : "still open";
  slow.destroy();

  // Recovery: a fresh socket for the slow user catches up with sync.
  const again = await openSocket(server.url, slowUser!.token);
  const seqs = new Set<number>();
  for (let since = 0, rounds = 0; rounds < 100; rounds++) {
    const from = again.frames.length;
    again.send({ type: "sync", since: { [group]: since } });
    const done = await again.waitFor((f) => f.type === "sync_done", 20_000, from);
    for (const f of again.frames.slice(from)) if (f.type === "new_message") seqs.add(f.message.seq);
    again.frames.length = 0;
    since = seqs.size;
    if (!done.has_more) break;
  }
  again.close();
  for (const h of healthy) h.close();
  out.close();
  await server.kill("SIGTERM");
  server.cleanup();

  if (delivered !== total * healthy.length) failures.push(`healthy receivers got ${delivered}/${total * healthy.length} messages`);
  if (slowOutcome === "still open") failures.push("the slow consumer was never closed");
  if (seqs.size !== total) failures.push(`the slow user recovered ${seqs.size}/${total} messages with sync`);
  if (peakRss > 512 * 1024 * 1024) failures.push(`server RSS peaked at ${mb(peakRss)}`);
  return {
    line: `messages=${total}x${(body.length / 1024).toFixed(1)}KiB healthy_delivered=${delivered}/${total * healthy.length} healthy_latency_ms p50=${percentile(latencies, 50).toFixed(0)} p99=${percentile(latencies, 99).toFixed(0)} slow=${slowOutcome} after ${slowFrames} frames read${slowClosedAt >= 0 ? ` (by message ${slowClosedAt})` : ""} recovered_by_sync=${seqs.size}/${total} rss base=${mb(baseRss)} peak=${mb(peakRss)}`,
    failures,
  };
}

// W8: webhook outbox delivery. W2's closed loop on our server without any hook, then again with one
// hook on message.created pointing at bench/w8-receiver.ts in its own process (added with the binary's
// `webhook add` while the server runs); then the outbox is drained; then a steady rate of REST sends
// over a few conversations. Reports W2 with and without the hook (same session), deliveries/s while
// W2 ran and while its backlog drained, and commit → receipt latency at the steady rate (the
// message's created_at, stamped in the commit's transaction, to the receiver's clock, same machine).
import { createGroup } from "../lib/api";
import { join } from "node:path";
import { BUN, GENERATOR_CORE, log, pin, round, Samples, sleep } from "../lib/util";
import { saturation, type Target, type W2Params } from "./chat";

interface Stats {
  unique: number;
  duplicates: number;
  first: number;
  last: number;
  latencies: number[];
}

/** The receiver process (bench/w8-receiver.ts), kept off the server core. */
async function startReceiver() {
  const proc = Bun.spawn([BUN, join(import.meta.dir, "../w8-receiver.ts")], { stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the W8 receiver exited");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  pin(proc.pid, GENERATOR_CORE);
  const base = `http://127.0.0.1:${Number(text.trim())}`;
  return {
    url: `${base}/hook`,
    stats: (): Promise<Stats> => fetch(`${base}/stats`).then((res) => res.json() as Promise<Stats>),
    reset: () => fetch(`${base}/reset`, { method: "POST" }).then(() => undefined),
    close: () => proc.kill(),
  };
}

const latency = (values: number[]) => {
  const samples = new Samples();
  for (const v of values) samples.add(v);
  return samples.summary();
};

async function pendingEvents(base: string): Promise<number> {
  const text = await fetch(`${base}/metrics`).then((res) => res.text());
  return Number(text.match(/^chat_webhook_events_pending (\d+)/m)?.[1] ?? NaN);
}

function cli(binary: string, args: string[]) {
  const run = Bun.spawnSync([binary, "webhook", ...args], { stdout: "pipe", stderr: "pipe" });
  if (run.exitCode !== 0) throw new Error(`webhook ${args[0]} failed: ${run.stderr.toString()}`);
  return run.stdout.toString();
}

/** `rate` messages/s spread over `conversations` groups for `seconds`; resolves when all are acknowledged. */
async function steadySends(t: Target, rate: number, seconds: number, conversations: number) {
  const [a, b] = t.users;
  const groups = await Promise.all(Array.from({ length: conversations }, (_, i) => createGroup(t.base, [a!, b!], `w8-steady-${i}`)));
  const sends: Promise<unknown>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < rate * seconds; i++) {
    const due = t0 + (i * 1000) / rate;
    if (due > performance.now()) await sleep(due - performance.now());
    sends.push(
      fetch(`${t.base}/api/v1/conversations/${groups[i % conversations]}/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${a!.token}`, "content-type": "application/json" },
        body: JSON.stringify({ content: `w8 steady ${i}` }),
      }).then((res) => res.arrayBuffer()),
    );
  }
  await Promise.all(sends);
  return rate * seconds;
}

export async function webhookDelivery(t: Target, p: W2Params & { binary: string; dataDir: string; steadyRate: number; steadySeconds: number }) {
  log("  W8: W2 without a hook");
  const without = await saturation(t, p);
  const receiver = await startReceiver();
  const hook = JSON.parse(
    cli(p.binary, ["add", "--data-dir", p.dataDir, "--url", receiver.url, "--events", "message.created", "--webhook-allow-private", "true", "--json"]),
  ) as { id: string };
  try {
    log("  W8: W2 with one hook on message.created");
    const loadStart = Date.now();
    const withHook = await saturation(t, p);
    const loadEnd = Date.now();
    const duringLoad = (await receiver.stats()).unique;
    const backlog = await pendingEvents(t.base);
    const deadline = Date.now() + 180_000;
    while ((await pendingEvents(t.base)) > 0 && Date.now() < deadline) await sleep(100);
    const drained = (await pendingEvents(t.base)) === 0;
    const afterW2 = await receiver.stats();
    const afterLoad = afterW2.unique - duringLoad;

    log(`  W8: steady ${p.steadyRate} msg/s over 4 conversations for ${p.steadySeconds} s`);
    await receiver.reset();
    const sent = await steadySends(t, p.steadyRate, p.steadySeconds, 4);
    const steadyDeadline = Date.now() + 60_000;
    let final = await receiver.stats();
    while (final.unique - afterW2.unique < sent && Date.now() < steadyDeadline) {
      await sleep(50);
      final = await receiver.stats();
    }
    const result = {
      w2_without_hook: without,
      w2_with_hook: withHook,
      deliveries: final.unique,
      duplicates: final.duplicates,
      drained,
      deliveries_per_s_during_load: round(duringLoad / ((loadEnd - loadStart) / 1000), 1),
      backlog_at_load_end: backlog,
      deliveries_per_s_draining: afterLoad > 0 && afterW2.last > loadEnd ? round(afterLoad / ((afterW2.last - loadEnd) / 1000), 1) : null,
      commit_to_receipt_ms_w2_backlog: latency(afterW2.latencies),
      steady_rate_per_s: p.steadyRate,
      steady_delivered: final.unique - afterW2.unique,
      commit_to_receipt_ms: latency(final.latencies),
    };
    log(
      `  W8: W2 delivered/s ${Math.round(without.full_load.delivered_per_s ?? 0)} without, ${Math.round(withHook.full_load.delivered_per_s ?? 0)} with a hook; ` +
        `${result.deliveries} webhook deliveries (${result.duplicates} duplicates), ${result.deliveries_per_s_during_load}/s during load, ` +
        `backlog ${backlog} drained at ${result.deliveries_per_s_draining ?? "-"}/s; at ${p.steadyRate} msg/s commit→receipt p50 ${result.commit_to_receipt_ms.p50} ms p99 ${result.commit_to_receipt_ms.p99} ms`,
    );
    return result;
  } finally {
    cli(p.binary, ["remove", "--data-dir", p.dataDir, hook.id]);
    receiver.close();
  }
}

// (8) Flood: one user's 20 sockets (the per-user maximum) each spend 45 frames' worth a second, just
// under the 50/s frame limit (a large frame counts as several), on worst-case frames: syncs naming 1,500 conversations the user is not in, syncs of a
// real conversation, mark_read and typing for unknown ids, typing into a group, valid 4,000-character
// messages and 60 KB messages that are refused. Meanwhile another client times GET /health.
// The goal is p99 < 50 ms (printed, not asserted); only a p99 over 1 s, or a well-behaved flooder
// closed as a flood, counts as a failure. The flooders run in a child process so their own work
// does not delay the measuring client.
import { frameCost } from "../../src/realtime/protocol";
import { client } from "../support/api";
import { BinaryServer, openSocket, percentile, users } from "./lib";
import type { ScenarioResult } from "./run";

const SOCKETS = 20;
/** Frame budget spent per second by each flooder: just under the default 50 (large frames cost more). */
const FRAMES_PER_SECOND = 45;

interface Plan {
  url: string;
  token: string;
  dm: string;
  group: string;
  lastSeq: number;
  durationMs: number;
}

/** Frame i of a flooder: a rotation over the expensive shapes (FLOOD_ONLY=<0-6> pins one, to find a culprit). */
function frameFor(plan: Plan, i: number, bigSync: string): string {
  const uuid = crypto.randomUUID();
  switch (process.env.FLOOD_ONLY ? Number(process.env.FLOOD_ONLY) : i % 7) {
    case 0:
      return bigSync;
    case 1:
      return JSON.stringify({ type: "sync", since: { [plan.dm]: Math.max(0, plan.lastSeq - 20), [plan.group]: 0 } });
    case 2:
      return JSON.stringify({ type: "mark_read", message_id: uuid });
    case 3:
      return JSON.stringify({ type: "typing", conversation_id: i % 2 ? uuid : plan.group });
    case 4:
      return JSON.stringify({ type: "message", conversation_id: plan.dm, content: "w".repeat(4000), client_msg_id: uuid });
    case 5:
      return JSON.stringify({ type: "message", conversation_id: plan.dm, content: "x".repeat(60_000) });
    default:
      return JSON.stringify({ type: "typing", conversation_id: plan.dm });
  }
}

/** The child process: opens the sockets, floods until the duration ends, prints a JSON summary. */
async function runFlooders(plan: Plan) {
  const since: Record<string, number> = {};
  while (JSON.stringify({ type: "sync", since }).length < 60_000) since[crypto.randomUUID()] = 0;
  const bigSync = JSON.stringify({ type: "sync", since });
  const sockets = await Promise.all(Array.from({ length: SOCKETS }, () => openSocket(plan.url, plan.token, 15_000)));
  const end = performance.now() + plan.durationMs;
  let sent = 0;
  await Promise.all(
    sockets.map(async (s, n) => {
      let due = performance.now();
      for (let i = 0; performance.now() < end && !s.closed; i++) {
        const frame = frameFor(plan, i + n, bigSync);
        // Paced by the frame's cost against a running schedule, so a late timer does not turn into
        // a burst above the limit.
        const wait = due - performance.now();
        if (wait > 0) await Bun.sleep(wait);
        due += (frameCost(frame.length) * 1000) / FRAMES_PER_SECOND;
        s.ws.send(frame);
        s.frames.length = 0;
        sent++;
      }
    }),
  );
  const closes = sockets.filter((s) => s.closed).map((s) => s.closed!.code);
  for (const s of sockets) s.close();
  console.log(JSON.stringify({ sent, closes }));
}

async function timeHealth(url: string, durationMs: number): Promise<number[]> {
  const times: number[] = [];
  const end = performance.now() + durationMs;
  while (performance.now() < end) {
    const t0 = performance.now();
    await fetch(`${url}/health`).then((r) => r.arrayBuffer());
    times.push(performance.now() - t0);
    await Bun.sleep(20);
  }
  return times;
}

const figures = (times: number[]) =>
  `p50=${percentile(times, 50).toFixed(1)}ms p99=${percentile(times, 99).toFixed(1)}ms max=${Math.max(...times).toFixed(1)}ms`;

export async function flood(quick: boolean): Promise<ScenarioResult> {
  const failures: string[] = [];
  // Rate limits on: flooding "at the limit" means the server's own frame limit.
  const server = new BinaryServer(undefined, []);
  await server.start();
  try {
    const api = client(server.url);
    const [attacker, peer] = await users(api, 2, "flood");
    const dm = (await api.dm(attacker!.token, peer!.user.id)).body.id as string;
    const group = (await api.group(peer!.token, "crowd", [attacker!.user.id])).body.id as string;
    for (let i = 0; i < 40; i++) await api.send(peer!.token, dm, `history ${i}`);
    const plan: Plan = { url: server.url, token: attacker!.token, dm, group, lastSeq: 40, durationMs: quick ? 5_000 : 15_000 };

    const idle = await timeHealth(server.url, 2_000);
    const child = Bun.spawn([process.execPath, import.meta.path, JSON.stringify(plan)], { stdout: "pipe", stderr: "pipe" });
    const output = new Response(child.stdout).text();
    const errors = new Response(child.stderr).text();
    await Bun.sleep(1_000); // the sockets are open and flooding
    const loaded = await timeHealth(server.url, plan.durationMs - 2_000);
    const code = await child.exited;
    let summary: { sent: number; closes: number[] } = { sent: 0, closes: [] };
    try {
      summary = JSON.parse((await output).trim().split("\n").at(-1)!);
    } catch {
      failures.push(`flooder exited ${code}: ${(await errors).slice(-500)}`);
    }
    const p99 = percentile(loaded, 99);
    if (p99 > 1_000) failures.push(`/health p99 ${p99.toFixed(0)} ms under the flood (goal < 50 ms)`);
    if (summary.closes.length) failures.push(`${summary.closes.length} flooders at 45/s were closed (${[...new Set(summary.closes)].join(",")})`);
    if (server.proc?.exitCode !== null) failures.push("the server exited");
    return {
      line: `sockets=${SOCKETS} frames=${summary.sent} (${FRAMES_PER_SECOND}/s each) /health idle ${figures(idle)}; flooded ${figures(loaded)} (goal p99<50ms)`,
      failures,
    };
  } finally {
    await server.kill("SIGTERM");
    server.cleanup();
  }
}

if (import.meta.main) await runFlooders(JSON.parse(process.argv[2]!) as Plan);

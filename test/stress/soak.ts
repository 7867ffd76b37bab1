// (7) Soak: steady mixed traffic (REST and socket sends, pages, read marks, counts, socket churn).
// After warm-up, WAL size must stay bounded and RSS and open file descriptors flat.
import { client } from "../support/api";
import type { TestSocket } from "../support/socket";
import { BinaryServer, mb, openSocket, users } from "./lib";
import type { ScenarioResult } from "./run";

export async function soak(quick: boolean): Promise<ScenarioResult> {
  const failures: string[] = [];
  const server = new BinaryServer();
  await server.start();
  const api = client(server.url);
  const people = await users(api, 4, "soak");
  const group = (await api.group(people[0]!.token, "soak", people.slice(1).map((p) => p.user.id))).body.id as string;
  const durationMs = quick ? 15_000 : 120_000;
  let stop = false;
  let sent = 0;
  let fivexx = 0;

  const restSender = async (u: number) => {
    for (let i = 0; !stop; i++) {
      const res = await api.send(people[u]!.token, group, `soak ${u} ${i} ${"y".repeat(200)}`, `r${u}-${i}`);
      if (res.status >= 500) fivexx++;
      else sent++;
      await Bun.sleep(5);
    }
  };
  const socketSender = async (u: number) => {
    const s = await openSocket(server.url, people[u]!.token);
    for (let i = 0; !stop && !s.closed; i++) {
      s.send({ type: "message", conversation_id: group, content: `sock ${u} ${i}`, client_msg_id: `s${u}-${i}` });
      if (i % 20 === 0) s.send({ type: "typing", conversation_id: group });
      s.frames.length = 0;
      sent++;
      await Bun.sleep(10);
    }
    s.close();
  };
  const reader = async (u: number) => {
    while (!stop) {
      const page = await api.get(`/api/v1/conversations/${group}/messages?limit=50`, people[u]!.token);
      if (page.status >= 500) fivexx++;
      const last = page.body?.at?.(-1);
      if (last) {
        const read = await api.put(`/api/v1/messages/${last.id}/read`, {}, people[u]!.token);
        if (read.status >= 500) fivexx++;
      }
      const count = await api.get("/api/v1/messages/unread/count", people[u]!.token);
      if (count.status >= 500) fivexx++;
      await Bun.sleep(20);
    }
  };
  // Sockets that come and go, as phones do.
  const churn = async (u: number) => {
    let s: TestSocket | null = null;
    while (!stop) {
      s = await openSocket(server.url, people[u]!.token);
      await Bun.sleep(200);
      s.close();
      await Bun.sleep(50);
    }
  };
  const load = [restSender(0), restSender(1), socketSender(2), socketSender(3), reader(1), reader(2), churn(3), churn(0)];

  const samples: { t: number; rss: number; fds: number; wal: number }[] = [];
  const t0 = performance.now();
  while (performance.now() - t0 < durationMs) {
    await Bun.sleep(quick ? 500 : 2_000);
    samples.push({ t: performance.now() - t0, ...server.figures() });
  }
  stop = true;
  await Promise.all(load);
  await server.kill("SIGTERM");
  server.cleanup();

  const warm = samples.slice(Math.floor(samples.length / 3));
  const first = warm[0]!;
  const last = warm.at(-1)!;
  const maxRss = Math.max(...warm.map((s) => s.rss));
  const maxWal = Math.max(...samples.map((s) => s.wal));
  const fdsMin = Math.min(...warm.map((s) => s.fds));
  const fdsMax = Math.max(...warm.map((s) => s.fds));
  if (fivexx) failures.push(`${fivexx} 5xx`);
  if (maxWal > 64 * 1024 * 1024) failures.push(`WAL grew to ${mb(maxWal)}`);
  if (fdsMax - fdsMin > 8) failures.push(`open fds went from ${fdsMin} to ${fdsMax} after warm-up`);
  if (last.rss > first.rss * 1.5 + 32 * 1024 * 1024) failures.push(`RSS grew from ${mb(first.rss)} to ${mb(last.rss)} after warm-up`);
  return {
    line: `duration_s=${(durationMs / 1000).toFixed(0)} ops=${sent} msg/s=${(sent / (durationMs / 1000)).toFixed(0)} rss_after_warmup first=${mb(first.rss)} last=${mb(last.rss)} max=${mb(maxRss)} fds min=${fdsMin} max=${fdsMax} wal max=${mb(maxWal)} last=${mb(last.wal)} 5xx=${fivexx}`,
    failures,
  };
}

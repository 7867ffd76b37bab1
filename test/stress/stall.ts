// (9) A stalled disk, default configuration (the writer thread): the data directory on a loop-mounted ext4, frozen with fsfreeze for
// 21 s (5 s with --quick) while REST and socket senders run. Commits wait on the writer thread; the
// event loop must keep answering: /health (503 storage_stalled once a commit has waited > 2 s),
// /metrics and cached reads. After the thaw every pending send is acknowledged; nothing is lost or
// stored twice.
import { mountFreezableDisk } from "../faults/disk";
import { client } from "../support/api";
import { BinaryServer, integrity, openSocket, percentile, seqGaps, users } from "./lib";
import type { ScenarioResult } from "./run";

export async function stall(quick: boolean): Promise<ScenarioResult> {
  const disk = mountFreezableDisk();
  if (typeof disk === "string") return { line: `skipped: ${disk}`, failures: [] };
  const failures: string[] = [];
  const server = new BinaryServer(undefined, ["--rate-limit", "false"], disk.dir);
  const freezeMs = quick ? 5000 : 21_000;
  try {
    await server.start();
    const api = client(server.url);
    const [a, b] = await users(api, 2, "stall");
    const group = (await api.group(a!.token, "stall", [b!.user.id])).body.id as string;
    const path = `/api/v1/conversations/${group}/messages`;
    const acked = new Set<string>();
    const statuses = new Map<number, number>();
    let stop = false;
    const rest = async (n: number) => {
      for (let i = 0; !stop; i++) {
        const id = `r${n}-${i}`;
        const res = await api.post(path, { content: id, client_msg_id: id }, a!.token);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 201) acked.add(id);
        await Bun.sleep(20);
      }
    };
    const socket = await openSocket(server.url, a!.token);
    const socketCodes = new Map<string, number>();
    let socketSent = 0;
    socket.ws.addEventListener("message", (event) => {
      const f = JSON.parse(String(event.data));
      if (f.type === "message_ack") acked.add(f.client_msg_id);
      if (f.type === "error") socketCodes.set(f.code, (socketCodes.get(f.code) ?? 0) + 1);
    });
    const sockets = async () => {
      for (let i = 0; !stop; i++, socketSent++) {
        socket.send({ type: "message", conversation_id: group, content: `s${i}`, client_msg_id: `s${i}` });
        socket.frames.length = 0;
        await Bun.sleep(20);
      }
    };
    const load = [rest(0), rest(1), sockets()];
    await Bun.sleep(1000);
    await api.get(`${path}?limit=50`, b!.token); // the read below is then served from memory

    const timed = async (url: string, token?: string) => {
      const t = performance.now();
      const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(30_000) });
      const text = await res.text();
      return { status: res.status, text, ms: performance.now() - t };
    };
    const health = new Map<string, number>();
    const healthMs: number[] = [];
    const metricsMs: number[] = [];
    const readMs: number[] = [];
    let readFailures = 0;
    disk.freeze(freezeMs + 10_000);
    try {
      for (const until = performance.now() + freezeMs; performance.now() < until; await Bun.sleep(100)) {
        const h = await timed(`${server.url}/health`);
        healthMs.push(h.ms);
        const key = h.status === 200 ? "200" : `503 ${JSON.parse(h.text).code}`;
        health.set(key, (health.get(key) ?? 0) + 1);
        metricsMs.push((await timed(`${server.url}/metrics`)).ms);
        const r = await timed(`${server.url}${path}?limit=50`, b!.token);
        readMs.push(r.ms);
        if (r.status !== 200) readFailures++;
      }
    } finally {
      disk.thaw();
    }
    const t0 = performance.now();
    let healed = false;
    while (!healed && performance.now() - t0 < 10_000) healed = (await api.get("/health")).status === 200 || (await Bun.sleep(50), false);
    const healMs = performance.now() - t0;
    await Bun.sleep(500);
    stop = true;
    await Promise.all(load);
    await Bun.sleep(300);
    socket.close();
    await server.kill("SIGTERM");
    const db = server.openDb();
    const stored = db.query<{ client_msg_id: string; n: number }, []>("SELECT client_msg_id, count(*) AS n FROM messages GROUP BY client_msg_id").all();
    const byId = new Map(stored.map((r) => [r.client_msg_id, r.n]));
    const lost = [...acked].filter((id) => !byId.has(id)).length;
    const duplicated = stored.filter((r) => r.n > 1).length;
    const verdict = integrity(db);
    const gaps = seqGaps(db);
    db.close();
    const fivexx = [...statuses].filter(([s]) => s >= 500).reduce((s, [, n]) => s + n, 0);
    const maxHealth = Math.max(0, ...healthMs);
    if (!health.has("503 storage_stalled")) failures.push(`/health never said storage_stalled: ${JSON.stringify(Object.fromEntries(health))}`);
    // One probe must not wait for the thaw: anything near the freeze means the event loop was stuck.
    if (maxHealth > freezeMs / 2) failures.push(`/health took ${maxHealth.toFixed(0)} ms during the freeze`);
    if (readFailures) failures.push(`${readFailures} cached reads failed during the freeze`);
    if (!healed) failures.push("/health did not return to 200 after the thaw");
    if (fivexx) failures.push(`${fivexx} 5xx sends: ${JSON.stringify(Object.fromEntries(statuses))}`);
    if (socketCodes.size) failures.push(`socket error frames: ${JSON.stringify(Object.fromEntries(socketCodes))}`);
    if (lost) failures.push(`${lost} acknowledged messages lost`);
    if (duplicated) failures.push(`${duplicated} client_msg_ids stored twice`);
    if (verdict !== "ok") failures.push(`integrity_check: ${verdict}`);
    if (gaps) failures.push(`${gaps} seq gaps`);
    return {
      line: `frozen_ms=${freezeMs} health_answers=${JSON.stringify(Object.fromEntries(health))} health_ms p50=${percentile(healthMs, 50).toFixed(1)} max=${maxHealth.toFixed(1)} metrics_max_ms=${Math.max(0, ...metricsMs).toFixed(1)} cached_read_max_ms=${Math.max(0, ...readMs).toFixed(1)} healthy_again_ms=${healMs.toFixed(0)} sends=${JSON.stringify(Object.fromEntries(statuses))} socket_sent=${socketSent} acked=${acked.size} lost=${lost} duplicated=${duplicated} gaps=${gaps} integrity=${verdict}`,
      failures,
    };
  } finally {
    disk.thaw();
    if (server.pid) await server.kill("SIGKILL");
    disk.unmount();
  }
}

// W1 steady chat, W2 saturation, W3 big room: the socket scenarios, identical for our server and the ceiling.
import { createGroup, createGroups, type BenchUser } from "../lib/api";
import { clientMsgIdOf, type Conn, Pool, sendMessage, sentAt } from "../lib/sockets";
import { coreMeter, cpuMeter, log, memory, partsMeter, round, Samples, SERVER_CORE, sleep } from "../lib/util";

export interface Target {
  kind: "ours" | "ceiling";
  base: string;
  wsUrl: string;
  pid: number;
  users: BenchUser[];
  /** Several instances (bench --cluster): socket i connects to wsUrls[i % n] instead of wsUrl. */
  wsUrls?: string[];
  /** Processes whose CPU is reported per part over each measuring window (instances, postgres, redis). */
  parts?: () => Record<string, number[]>;
}

/** Counts acks and deliveries; latencies only inside the measuring window. */
class Recorder {
  measuring = false;
  totalSent = 0;
  totalAcks = 0;
  totalDelivered = 0;
  acks = 0;
  delivered = 0;
  ackLat = new Samples();
  delLat = new Samples();
  private meters: {
    server: () => ReturnType<ReturnType<typeof cpuMeter>>;
    gen: () => ReturnType<ReturnType<typeof cpuMeter>>;
    cores: () => number[];
    parts: (() => Record<string, number>) | null;
  } | null = null;
  private t0 = 0;
  onAck: ((conn: Conn) => void) | null = null;
  onDelivered: ((id: string, now: number) => void) | null = null;

  private readonly serverPid: number;
  constructor(private readonly target: Target) {
    this.serverPid = target.pid;
  }

  readonly handle = (conn: Conn, raw: string, type: string) => {
    if (type === "new_message") {
      this.totalDelivered++;
      if (this.measuring || this.onDelivered) {
        const now = performance.now();
        const id = clientMsgIdOf(raw)!;
        if (this.measuring) {
          this.delivered++;
          this.delLat.add(now - sentAt(id));
        }
        this.onDelivered?.(id, now);
      }
    } else if (type === "message_ack") {
      conn.inflight--;
      this.totalAcks++;
      if (this.measuring) {
        this.acks++;
        this.ackLat.add(performance.now() - sentAt(clientMsgIdOf(raw)!));
      }
      this.onAck?.(conn);
    }
  };

  start() {
    this.acks = this.delivered = 0;
    this.ackLat = new Samples();
    this.delLat = new Samples();
    this.meters = { server: cpuMeter(this.serverPid), gen: cpuMeter(process.pid), cores: coreMeter(), parts: this.target.parts ? partsMeter(this.target.parts) : null };
    this.t0 = performance.now();
    this.measuring = true;
  }

  stop() {
    this.measuring = false;
    const seconds = (performance.now() - this.t0) / 1000;
    const server = this.meters!.server();
    const gen = this.meters!.gen();
    const cores = this.meters!.cores();
    const parts = this.meters!.parts?.();
    const del = this.delLat.summary();
    const ack = this.ackLat.summary();
    return {
      seconds: round(seconds, 2),
      acked_per_s: round(this.acks / seconds, 1),
      delivered_per_s: round(this.delivered / seconds, 1),
      delivery_ms: del,
      ack_ms: ack,
      server_cpu_percent: round(server.percent, 1),
      server_cpu_us_per_delivery: round((server.seconds * 1e6) / Math.max(1, this.delivered), 2),
      generator_cpu_percent: round(gen.percent, 1),
      /** Busy percent per core; the server core's busy time minus the server's own is other processes. */
      core_busy_percent: cores,
      foreign_load_on_server_core_percent: round(Math.max(0, (cores[SERVER_CORE] ?? 0) - server.percent), 1),
      server_rss_bytes: memory(this.serverPid).rss,
      ...(parts && {
        cpu_percent_by_part: Object.fromEntries(Object.entries(parts).map(([k, cpu]) => [k, round((100 * cpu) / seconds, 1)])),
        cpu_us_per_delivery_by_part: Object.fromEntries(Object.entries(parts).map(([k, cpu]) => [k, round((cpu * 1e6) / Math.max(1, this.delivered), 2)])),
      }),
    };
  }

  /** After sending stops: wait for every ack and every expected delivery (or a quiet timeout). */
  async drain(expectedDeliveries: number, quietMs = 3000) {
    let last = -1;
    let quietSince = performance.now();
    while (this.totalAcks < this.totalSent || this.totalDelivered < expectedDeliveries) {
      await sleep(50);
      const progress = this.totalAcks + this.totalDelivered;
      if (progress !== last) {
        last = progress;
        quietSince = performance.now();
      } else if (performance.now() - quietSince > quietMs) break;
    }
    return {
      sent: this.totalSent,
      acked: this.totalAcks,
      unacked: this.totalSent - this.totalAcks,
      delivered: this.totalDelivered,
      missing_deliveries: Math.max(0, expectedDeliveries - this.totalDelivered),
    };
  }
}

/** Sends `rate` messages per second in total, round robin over `conns`, evenly spread in time. */
function openLoop(conns: Conn[], rate: number, tag: string, rec: Recorder) {
  const t0 = performance.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor((rate * (performance.now() - t0)) / 1000);
    while (sent < due) {
      sendMessage(conns[sent % conns.length]!, tag);
      sent++;
      rec.totalSent++;
    }
  }, 2);
  return () => clearInterval(timer);
}

/** Interleaves groups so consecutive sends go to different rooms. */
function interleave(conns: Conn[], groupSize: number): Conn[] {
  const groups = conns.length / groupSize;
  const out: Conn[] = [];
  for (let k = 0; k < groupSize; k++) for (let g = 0; g < groups; g++) out.push(conns[g * groupSize + k]!);
  return out;
}

function health(pool: Pool) {
  return { error_frames: pool.errorFrames, error_samples: pool.errorSamples, unexpected_closes: pool.unexpectedCloses, close_codes: Object.fromEntries(pool.closeCodes) };
}

async function openGroupSockets(t: Target, groups: number, size: number, name: string) {
  const users = t.users.slice(0, groups * size);
  const convs = await createGroups(t.base, t.users, groups, size, `${name}-${t.kind}`);
  const pool = new Pool();
  const opened = await pool.open(t.wsUrls ?? t.wsUrl, users.map((u) => u.token));
  if (opened.failures.length) throw new Error(`${name}: ${opened.failures.length} sockets failed: ${opened.failures[0]}`);
  pool.conns.forEach((c, i) => (c.conversationId = convs[Math.floor(i / size)]!));
  await pool.settle();
  return { pool, connectMs: opened.ms };
}

export interface W1Params {
  groups: number;
  groupSize: number;
  ratePerSocket: number;
  warmup: number;
  duration: number;
}

export async function steadyChat(t: Target, p: W1Params) {
  const { pool } = await openGroupSockets(t, p.groups, p.groupSize, "w1");
  const rec = new Recorder(t);
  pool.handler = rec.handle;
  const sockets = pool.conns.length;
  const stopSending = openLoop(interleave(pool.conns, p.groupSize), sockets * p.ratePerSocket, "w1", rec);
  await sleep(p.warmup * 1000);
  rec.start();
  await sleep(p.duration * 1000);
  const window = rec.stop();
  stopSending();
  const totals = await rec.drain(rec.totalSent * p.groupSize);
  const result = { sockets, groups: p.groups, group_size: p.groupSize, offered_msgs_per_s: sockets * p.ratePerSocket, ...window, totals, ...health(pool) };
  await pool.close();
  return result;
}

export interface W2Params {
  groups: number;
  groupSize: number;
  /** Messages in flight per socket, one step each: the loop sends the next one on each ack. */
  windows: number[];
  warmup: number;
  stepDuration: number;
}

export async function saturation(t: Target, p: W2Params) {
  const { pool } = await openGroupSockets(t, p.groups, p.groupSize, "w2");
  const rec = new Recorder(t);
  pool.handler = rec.handle;
  let window = 0;
  const send = (c: Conn) => {
    sendMessage(c, "w2");
    rec.totalSent++;
  };
  rec.onAck = (c) => {
    while (c.inflight < window) send(c);
  };
  const steps = [];
  for (const w of p.windows) {
    window = w;
    for (const c of pool.conns) while (c.inflight < window) send(c);
    await sleep(p.warmup * 1000);
    rec.start();
    await sleep(p.stepDuration * 1000);
    steps.push({ window: w, in_flight: w * pool.conns.length, ...rec.stop() });
  }
  window = 0;
  const totals = await rec.drain(rec.totalSent * p.groupSize);
  const full = steps.reduce((a, b) => ((b.delivered_per_s ?? 0) > (a.delivered_per_s ?? 0) ? b : a));
  const under50 = steps.filter((s) => (s.delivery_ms.p99 ?? Infinity) < 50);
  const best50 = under50.length ? under50.reduce((a, b) => ((b.delivered_per_s ?? 0) > (a.delivered_per_s ?? 0) ? b : a)) : null;
  const result = {
    sockets: pool.conns.length,
    groups: p.groups,
    group_size: p.groupSize,
    full_load: { window: full.window, delivered_per_s: full.delivered_per_s, acked_per_s: full.acked_per_s, delivery_p99_ms: full.delivery_ms.p99 },
    p99_under_50ms: best50
      ? { window: best50.window, delivered_per_s: best50.delivered_per_s, acked_per_s: best50.acked_per_s, delivery_p99_ms: best50.delivery_ms.p99 }
      : null,
    steps,
    totals,
    ...health(pool),
  };
  await pool.close();
  return result;
}

export interface W3Params {
  members: number;
  rate: number;
  warmup: number;
  duration: number;
}

export async function bigRoom(t: Target, p: W3Params) {
  if (p.members > t.users.length) throw new Error(`w3: needs ${p.members} users`);
  const users = t.users.slice(0, p.members);
  const conv = await createGroup(t.base, users, `w3-${t.kind}`);
  const pool = new Pool();
  const opened = await pool.open(t.wsUrls ?? t.wsUrl, users.map((u) => u.token));
  if (opened.failures.length) throw new Error(`w3: ${opened.failures.length} sockets failed: ${opened.failures[0]}`);
  for (const c of pool.conns) c.conversationId = conv;
  // Each member's first socket announces presence to the other 999: let that storm pass first.
  await pool.settle(1000, 60_000);
  const rec = new Recorder(t);
  pool.handler = rec.handle;
  const pending = new Map<string, number>();
  let lastMember = new Samples();
  let incomplete = 0;
  rec.onDelivered = (id, now) => {
    const n = (pending.get(id) ?? 0) + 1;
    if (n < p.members) return void pending.set(id, n);
    pending.delete(id);
    if (rec.measuring) lastMember.add(now - sentAt(id));
  };
  const stopSending = openLoop(pool.conns, p.rate, "w3", rec);
  await sleep(p.warmup * 1000);
  lastMember = new Samples();
  rec.start();
  await sleep(p.duration * 1000);
  const window = rec.stop();
  const last = lastMember.summary();
  stopSending();
  const totals = await rec.drain(rec.totalSent * p.members);
  incomplete = pending.size;
  const result = { members: p.members, offered_msgs_per_s: p.rate, fanout_last_member_ms: last, ...window, incomplete_fanouts: incomplete, totals, ...health(pool) };
  await pool.close();
  return result;
}

export function logChat(name: string, kind: string, r: any) {
  if (r.steps) {
    for (const s of r.steps)
      log(`  ${name} ${kind} window ${s.window}: ${s.delivered_per_s} delivered/s, ${s.acked_per_s} acked/s, p99 ${s.delivery_ms.p99} ms, server cpu ${s.server_cpu_percent}%, gen cpu ${s.generator_cpu_percent}%`);
  } else {
    log(`  ${name} ${kind}: ${r.delivered_per_s} delivered/s, p50 ${r.delivery_ms.p50} ms p99 ${r.delivery_ms.p99} ms, server cpu ${r.server_cpu_percent}%, gen cpu ${r.generator_cpu_percent}%`);
  }
}

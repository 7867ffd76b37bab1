// W9 mixed workload (issue 13): W2's closed loop at one message in flight per socket, where sends carry
// mentions and replies, and REST edits, reactions and deletes plus membership churn run beside it.
// Ours only (the ceiling has none of these features); compared with plain W2 at 1 in flight, same run.
import { bounded, call, createGroup, type BenchUser } from "../lib/api";
import { type Conn, Pool, sentAt, stampId } from "../lib/sockets";
import { cpuMeter, log, round, Samples, sleep } from "../lib/util";
import { saturation, type Target } from "./chat";

export interface W9Params {
  groups: number;
  /** Senders per group; each group also holds one churn member who is removed and re-added. */
  groupSize: number;
  warmup: number;
  duration: number;
  /** Milliseconds between membership changes (one group at a time, round robin). */
  churnEveryMs: number;
}

/** Fractions of acked sends that are followed by a REST call (the mix). */
const MIX = { edit: 0.1, reaction: 0.1, delete: 0.05 };
/** One send in three replies to a recent message of its group; every send mentions a member. */
const REPLY_SHARE = 1 / 3;
const EMOJI = ["👍", "🎉", "❤️", ":tada:", ":eyes:", "😂"];
const REST_LANES = 16;

interface Posted {
  id: string;
  sender: number;
}

interface Group {
  id: string;
  members: BenchUser[];
  churn: BenchUser;
  churnIn: boolean;
  /** Messages that are never deleted: reply targets, edits and reactions. */
  stable: Posted[];
  /** Messages set aside for deletes (never replied to, so a reply never races a delete). */
  doomed: Posted[];
}

const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]!;

/** A queue of REST calls run by a few lanes, so REST load never outruns the server unboundedly. */
class RestQueue {
  private readonly jobs: (() => Promise<unknown>)[] = [];
  private waiting: (() => void)[] = [];
  private closed = false;
  readonly done: Record<string, number> = {};
  readonly latency = new Samples();
  errors = 0;
  readonly errorSamples: string[] = [];
  private readonly lanes: Promise<void>[];
  /** Called after each job: the workload resumes senders it parked while the queue was deep. */
  onJobDone: (() => void) | null = null;

  constructor(lanes: number) {
    this.lanes = Array.from({ length: lanes }, () => this.lane());
  }

  push(kind: string, job: () => Promise<unknown>) {
    this.jobs.push(async () => {
      const t0 = performance.now();
      try {
        await job();
        this.done[kind] = (this.done[kind] ?? 0) + 1;
        this.latency.add(performance.now() - t0);
      } catch (error) {
        this.errors++;
        if (this.errorSamples.length < 5) this.errorSamples.push(`${kind}: ${String(error).slice(0, 300)}`);
      }
      this.onJobDone?.();
    });
    this.waiting.shift()?.();
  }

  get pending() {
    return this.jobs.length;
  }

  private async lane() {
    for (;;) {
      const job = this.jobs.shift();
      if (job) await job();
      else if (this.closed) return;
      else await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  async close() {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w();
    await Promise.all(this.lanes);
  }
}

export async function mixedWorkload(t: Target, p: W9Params) {
  log("  W9: plain W2 at 1 in flight (the comparison)");
  const plain = await saturation(t, { groups: p.groups, groupSize: p.groupSize, windows: [1], warmup: p.warmup, stepDuration: p.duration });
  const mixed = await mixed9(t, p);
  const plainStep = plain.steps[0]!;
  return {
    mixed,
    plain: { delivered_per_s: plainStep.delivered_per_s, acked_per_s: plainStep.acked_per_s, ack_ms: plainStep.ack_ms, delivery_ms: plainStep.delivery_ms, server_cpu_percent: plainStep.server_cpu_percent },
    plain_detail: plain,
    ratio_delivered: mixed.delivered_per_s && plainStep.delivered_per_s ? round(mixed.delivered_per_s / plainStep.delivered_per_s, 3) : null,
  };
}

async function mixed9(t: Target, p: W9Params) {
  const per = p.groupSize + 1;
  if (p.groups * per > t.users.length) throw new Error(`w9: needs ${p.groups * per} users, have ${t.users.length}`);
  const groups: Group[] = await bounded(p.groups, 8, async (g) => {
    const all = t.users.slice(g * per, g * per + per);
    const id = await createGroup(t.base, all, `w9-${t.kind}-${g}`);
    return { id, members: all.slice(0, p.groupSize), churn: all[p.groupSize]!, churnIn: true, stable: [], doomed: [] };
  });
  const pool = new Pool();
  // Socket i*per+k is member k of group i; the last of each group is the churn member (receives only).
  const opened = await pool.open(t.wsUrl, groups.flatMap((g) => [...g.members, g.churn].map((u) => u.token)));
  if (opened.failures.length) throw new Error(`w9: ${opened.failures.length} sockets failed: ${opened.failures[0]}`);
  pool.conns.forEach((c, i) => (c.conversationId = groups[Math.floor(i / per)]!.id));
  await pool.settle();

  const rest = new RestQueue(REST_LANES);
  const counts = { sent: 0, acked: 0, new_message: 0, message_updated: 0, conversation_updated: 0, conversation_removed: 0, replies: 0, mentions: 0 };
  const win = { measuring: false, acks: 0, delivered: 0, updated: 0, ackLat: new Samples(), delLat: new Samples() };
  let sending = true;
  // Closed loop for REST too: while the queue is deeper than this, a sender waits after its ack, so the
  // mix (10 % edits, ...) holds in the measured window instead of REST falling behind the sends.
  const MAX_QUEUED = REST_LANES * 2;
  const parked: Conn[] = [];
  rest.onJobDone = () => {
    while (parked.length && rest.pending <= MAX_QUEUED && sending) send(parked.shift()!);
  };

  const send = (c: Conn) => {
    const g = groups[Math.floor(c.index / per)]!;
    const me = c.index % per;
    const other = g.members[(me + 1 + Math.floor(Math.random() * (p.groupSize - 1))) % p.groupSize]!;
    const id = stampId("w9");
    const frame: Record<string, unknown> = { type: "message", conversation_id: g.id, client_msg_id: id, content: `${id} hey @${other.username}, a chat-sized line of text` };
    if (g.stable.length && Math.random() < REPLY_SHARE) {
      frame.reply_to_id = pick(g.stable).id;
      counts.replies++;
    }
    counts.mentions++;
    c.ws.send(JSON.stringify(frame));
    c.inflight++;
    counts.sent++;
  };

  const afterAck = (g: Group, posted: Posted) => {
    const list = Math.random() < 0.25 ? g.doomed : g.stable;
    list.push(posted);
    if (g.stable.length > 200) g.stable.splice(0, 100);
    const r = Math.random();
    if (r < MIX.edit && g.stable.length) {
      const m = pick(g.stable);
      rest.push("edit", () => call(t.base, "PATCH", `/api/v1/messages/${m.id}`, { content: `edited ${Date.now()} cc @${g.members[0]!.username}` }, g.members[m.sender]!.token));
    } else if (r < MIX.edit + MIX.reaction && g.stable.length) {
      const m = pick(g.stable);
      const who = pick(g.members);
      rest.push("reaction", () => call(t.base, "PUT", `/api/v1/messages/${m.id}/reactions/${encodeURIComponent(pick(EMOJI))}`, undefined, who.token));
    } else if (r < MIX.edit + MIX.reaction + MIX.delete && g.doomed.length) {
      const m = g.doomed.shift()!;
      rest.push("delete", () => call(t.base, "DELETE", `/api/v1/messages/${m.id}`, undefined, g.members[m.sender]!.token));
    }
  };

  pool.handler = (c, raw, type) => {
    if (type === "message_ack") {
      c.inflight--;
      counts.acked++;
      const f = JSON.parse(raw);
      const g = groups[Math.floor(c.index / per)]!;
      afterAck(g, { id: f.message.id, sender: c.index % per });
      if (win.measuring) {
        win.acks++;
        win.ackLat.add(performance.now() - sentAt(f.client_msg_id));
      }
      if (!sending) return;
      if (rest.pending > MAX_QUEUED) parked.push(c);
      else send(c);
    } else if (type === "new_message") {
      counts.new_message++;
      if (win.measuring) {
        win.delivered++;
        // The message's own client_msg_id comes first in a new_message frame (its send stamp).
        const k = raw.indexOf('"client_msg_id":"w9_');
        if (k >= 0) {
          const s = k + 17;
          win.delLat.add(performance.now() - sentAt(raw.slice(s, raw.indexOf('"', s))));
        }
      }
    } else if (type === "message_updated") {
      counts.message_updated++;
      if (win.measuring) win.updated++;
    } else if (type === "conversation_updated") counts.conversation_updated++;
    else if (type === "conversation_removed") counts.conversation_removed++;
  };

  let churnNext = 0;
  let churnOps = 0;
  const churn = setInterval(() => {
    const g = groups[churnNext++ % groups.length]!;
    const owner = g.members[0]!.token;
    const op = g.churnIn
      ? () => call(t.base, "DELETE", `/api/v1/conversations/${g.id}/members/${g.churn.id}`, undefined, owner)
      : () => call(t.base, "POST", `/api/v1/conversations/${g.id}/members`, { user_ids: [g.churn.id] }, owner);
    g.churnIn = !g.churnIn;
    churnOps++;
    rest.push(g.churnIn ? "member_add" : "member_remove", op);
  }, p.churnEveryMs);

  for (const c of pool.conns) if (c.index % per < p.groupSize) send(c);
  await sleep(p.warmup * 1000);
  const server = cpuMeter(t.pid);
  const gen = cpuMeter(process.pid);
  const t0 = performance.now();
  const restBefore = { ...rest.done };
  win.measuring = true;
  await sleep(p.duration * 1000);
  win.measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = server();
  const genCpu = gen();
  const restInWindow = Object.fromEntries(Object.entries(rest.done).map(([k, v]) => [k, v - (restBefore[k] ?? 0)]));
  sending = false;
  clearInterval(churn);
  // Drain: every send acknowledged, the REST queue empty, then a quiet moment for the last frames.
  const deadline = performance.now() + 60_000;
  while ((counts.acked < counts.sent || rest.pending > 0) && performance.now() < deadline) await sleep(50);
  await rest.close();
  await pool.settle(1000, 15_000);
  const acksInWindow = Math.max(1, win.acks);
  const result = {
    sockets: pool.conns.length,
    groups: p.groups,
    group_size: p.groupSize,
    seconds: round(seconds, 2),
    /** new_message + message_updated frames received by every socket, per second. */
    delivered_per_s: round((win.delivered + win.updated) / seconds, 1),
    new_message_per_s: round(win.delivered / seconds, 1),
    message_updated_per_s: round(win.updated / seconds, 1),
    acked_per_s: round(win.acks / seconds, 1),
    ack_ms: win.ackLat.summary(),
    delivery_ms: win.delLat.summary(),
    server_cpu_percent: round(cpu.percent, 1),
    generator_cpu_percent: round(genCpu.percent, 1),
    rest_calls_in_window: restInWindow,
    rest_per_send_percent: Object.fromEntries(Object.entries(restInWindow).map(([k, v]) => [k, round((100 * v) / acksInWindow, 1)])),
    rest_latency_ms: rest.latency.summary(),
    rest_errors: rest.errors,
    rest_error_samples: rest.errorSamples,
    membership_changes: churnOps,
    totals: { ...counts, unacked: counts.sent - counts.acked },
    error_frames: pool.errorFrames,
    error_samples: pool.errorSamples,
    unexpected_closes: pool.unexpectedCloses,
    close_codes: Object.fromEntries(pool.closeCodes),
  };
  await pool.close();
  return result;
}

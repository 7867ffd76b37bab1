// W10 reconnect storm (issue 13): clients in groups of 10 go offline; meanwhile messages are sent and
// edited over REST; then every client reconnects at once and catches up with `sync` (`since` + `revs`,
// again while has_more), applying new_message and `changes` frames like the README's client. Figures:
// time until the last client is caught up, server CPU meanwhile, bytes received per client; then every
// client's view is compared with the server's (GET …/messages) to prove it converged.
import { bounded, call, createGroups, type BenchUser } from "../lib/api";
import { frameType, Pool } from "../lib/sockets";
import { cpuMeter, log, round, Samples, sleep } from "../lib/util";
import type { Target } from "./chat";

export interface W10Params {
  clients: number;
  groupSize: number;
  messages: number;
  edits: number;
  /** Concurrent REST calls while the clients are offline. */
  writers: number;
  /** Give up waiting for convergence after this many seconds (the clients left count as errors). */
  timeout: number;
}

interface View {
  seq: number;
  content: string;
  deleted: boolean;
}

interface Client {
  user: BenchUser;
  conversationId: string;
  upTo: number;
  rev: number;
  seqs: Set<number>;
  msgs: Map<string, View>;
  bytes: number;
  /** Bytes of new_message frames (answers to `since`) and of `changes` frames (answers to `revs`). */
  sinceBytes: number;
  revsBytes: number;
  frames: number;
  rounds: number;
  doneMs: number | null;
  attempts: number;
}

const viewOf = (m: any): View => ({ seq: m.seq, content: m.content, deleted: m.deleted_at != null });

export async function reconnectStorm(t: Target, p: W10Params) {
  if (p.clients > t.users.length) throw new Error(`w10: needs ${p.clients} users, have ${t.users.length}`);
  const groups = Math.floor(p.clients / p.groupSize);
  const users = t.users.slice(0, groups * p.groupSize);
  const convs = await createGroups(t.base, users, groups, p.groupSize, `w10-${t.kind}`);
  const startRev = await bounded(groups, 8, async (g) => (await call(t.base, "GET", `/api/v1/conversations/${convs[g]}`, undefined, users[g * p.groupSize]!.token)).rev as number);
  const clients: Client[] = users.map((user, i) => {
    const g = Math.floor(i / p.groupSize);
    return { user, conversationId: convs[g]!, upTo: 0, rev: startRev[g] ?? 0, seqs: new Set(), msgs: new Map(), bytes: 0, sinceBytes: 0, revsBytes: 0, frames: 0, rounds: 0, doneMs: null, attempts: 0 };
  });

  // Online once (so each device has been seen), then everyone goes offline.
  const first = new Pool();
  const opened = await first.open(t.wsUrl, users.map((u) => u.token));
  if (opened.failures.length) throw new Error(`w10: ${opened.failures.length} sockets failed: ${opened.failures[0]}`);
  await first.settle();
  await first.close();

  // Offline: messages by random members, then edits by their senders, over REST.
  const t0 = performance.now();
  const posted: { id: string; conv: number; sender: BenchUser }[] = [];
  const restErrors: string[] = [];
  await bounded(p.messages, p.writers, async (i) => {
    const g = i % groups;
    const sender = users[g * p.groupSize + Math.floor(Math.random() * p.groupSize)]!;
    try {
      const m = await call(t.base, "POST", `/api/v1/conversations/${convs[g]}/messages`, { content: `offline message ${i} while everyone was away` }, sender.token);
      posted.push({ id: m.id, conv: g, sender });
    } catch (error) {
      restErrors.push(String(error).slice(0, 300));
    }
  });
  await bounded(p.edits, p.writers, async (i) => {
    const m = posted[Math.floor(Math.random() * posted.length)]!;
    try {
      await call(t.base, "PATCH", `/api/v1/messages/${m.id}`, { content: `edit ${i} of an offline message` }, m.sender.token);
    } catch (error) {
      restErrors.push(String(error).slice(0, 300));
    }
  });
  const offlineSeconds = (performance.now() - t0) / 1000;
  log(`  W10: ${posted.length} messages and ${p.edits} edits in ${offlineSeconds.toFixed(1)} s offline; ${clients.length} clients reconnect at once`);

  // The storm: every client connects at once, syncs, and repeats while has_more.
  const errorSamples: string[] = [];
  let errorFrames = 0;
  let failures = 0;
  const server = cpuMeter(t.pid);
  const gen = cpuMeter(process.pid);
  const s0 = performance.now();
  let remaining = clients.length;
  const sockets: WebSocket[] = [];
  let closing = false;
  let allDone!: () => void;
  const finished = new Promise<void>((resolve) => (allDone = resolve));

  const connect = (c: Client) => {
    c.attempts++;
    const ws = new WebSocket(t.wsUrl);
    sockets.push(ws);
    const sync = () => {
      c.rounds++;
      ws.send(JSON.stringify({ type: "sync", since: { [c.conversationId]: c.upTo }, revs: { [c.conversationId]: c.rev } }));
    };
    const apply = (m: any) => {
      c.msgs.set(m.id, viewOf(m));
      c.seqs.add(m.seq);
      while (c.seqs.has(c.upTo + 1)) c.upTo++;
    };
    ws.onopen = () => ws.send(JSON.stringify({ token: c.user.token }));
    ws.onmessage = (e) => {
      const raw = e.data as string;
      const size = Buffer.byteLength(raw);
      c.bytes += size;
      c.frames++;
      const type = frameType(raw);
      if (type === "new_message") c.sinceBytes += size;
      else if (type === "changes") c.revsBytes += size;
      if (type === "ready") sync();
      else if (type === "new_message" || type === "message_updated") apply(JSON.parse(raw).message);
      else if (type === "changes") {
        const f = JSON.parse(raw);
        for (const m of f.messages) apply(m);
        c.rev = Math.max(c.rev, f.rev);
      } else if (type === "sync_done") {
        if (JSON.parse(raw).has_more) sync();
        else if (c.doneMs === null) {
          c.doneMs = performance.now() - s0;
          if (--remaining === 0) allDone();
        }
      } else if (type === "error") {
        errorFrames++;
        if (errorSamples.length < 5) errorSamples.push(raw.slice(0, 300));
      }
    };
    ws.onclose = (e) => {
      if (c.doneMs !== null || closing) return;
      failures++;
      if (errorSamples.length < 5) errorSamples.push(`socket closed ${e.code} ${e.reason} before catching up`);
      // Like a real client: reconnect and sync again from what it holds.
      if (c.attempts < 4) setTimeout(() => connect(c), 200 * c.attempts);
    };
  };
  for (const c of clients) connect(c);
  await Promise.race([finished, sleep(p.timeout * 1000)]);
  const convergeMs = performance.now() - s0;
  const cpu = server();
  const genCpu = gen();

  // Verify: the server's view of each conversation (all pages) against every member's.
  const truth = await bounded(groups, 8, async (g) => {
    const token = users[g * p.groupSize]!.token;
    const all = new Map<string, View>();
    for (let after = 0; ; ) {
      const page: any[] = await call(t.base, "GET", `/api/v1/conversations/${convs[g]}/messages?limit=100&after=${after}`, undefined, token);
      for (const m of page) all.set(m.id, viewOf(m));
      if (page.length < 100) break;
      after = Math.max(...page.map((m) => m.seq));
    }
    return all;
  });
  let notConverged = 0;
  const mismatchSamples: string[] = [];
  clients.forEach((c, i) => {
    const want = truth[Math.floor(i / p.groupSize)]!;
    let bad = c.doneMs === null ? "never finished" : c.msgs.size !== want.size ? `${c.msgs.size} messages, server has ${want.size}` : "";
    if (!bad)
      for (const [id, v] of want) {
        const got = c.msgs.get(id);
        if (!got || got.content !== v.content || got.deleted !== v.deleted) {
          bad = `message ${id} differs`;
          break;
        }
      }
    if (bad) {
      notConverged++;
      if (mismatchSamples.length < 5) mismatchSamples.push(`${c.user.username}: ${bad}`);
    }
  });
  closing = true;
  for (const ws of sockets) ws.close(1000);
  await sleep(500);

  const bytes = new Samples();
  for (const c of clients) bytes.add(c.bytes);
  const b = bytes.summary();
  const done = clients.filter((c) => c.doneMs !== null).map((c) => c.doneMs!);
  const mean = clients.reduce((a, c) => a + c.bytes, 0) / clients.length;
  return {
    clients: clients.length,
    groups,
    group_size: p.groupSize,
    offline_messages: posted.length,
    offline_edits: p.edits,
    offline_seconds: round(offlineSeconds, 1),
    converge_all_ms: round(done.length === clients.length ? Math.max(...done) : convergeMs, 1),
    converge_median_ms: round(done.sort((a, b) => a - b)[Math.floor(done.length / 2)] ?? NaN, 1),
    server_cpu_percent: round(cpu.percent, 1),
    server_cpu_seconds: round(cpu.seconds, 2),
    generator_cpu_percent: round(genCpu.percent, 1),
    bytes_per_client: { mean: Math.round(mean), p50: b.p50, p99: b.p99, max: b.max },
    /** Both answers carry the new messages: `since` as new_message frames, `revs` inside `changes`. */
    new_message_bytes_per_client_mean: Math.round(clients.reduce((a, c) => a + c.sinceBytes, 0) / clients.length),
    changes_bytes_per_client_mean: Math.round(clients.reduce((a, c) => a + c.revsBytes, 0) / clients.length),
    sync_rounds_mean: round(clients.reduce((a, c) => a + c.rounds, 0) / clients.length, 2),
    frames_per_client_mean: round(clients.reduce((a, c) => a + c.frames, 0) / clients.length, 1),
    verified_clients: clients.length,
    not_converged: notConverged,
    mismatch_samples: mismatchSamples,
    rest_errors: restErrors.length,
    rest_error_samples: restErrors.slice(0, 5),
    error_frames: errorFrames,
    error_samples: errorSamples,
    reconnects_needed: failures,
  };
}

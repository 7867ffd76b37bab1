// (3) Ordering and catch-up: senders race into one group while receivers drop and reconnect at random,
// catching up with `sync`. Each receiver's final history (live + sync, de-duplicated by seq) must equal
// the database: every seq, the same ids, no gaps.
import { wsUrl } from "../support/socket";
import { client } from "../support/api";
import { BinaryServer, users } from "./lib";
import type { ScenarioResult } from "./run";

class Receiver {
  readonly got = new Map<number, string>();
  received = 0;
  reconnects = 0;
  syncRounds = 0;
  private ws: WebSocket | null = null;
  private synced: (() => void) | null = null;

  constructor(readonly url: string, readonly token: string, readonly conversationId: string) {}

  contiguous() {
    let k = 0;
    while (this.got.has(k + 1)) k++;
    return k;
  }

  private sync() {
    this.syncRounds++;
    this.ws?.send(JSON.stringify({ type: "sync", since: { [this.conversationId]: this.contiguous() } }));
  }

  /** Connects and catches up; resolves when the first full sync is done. */
  connect(): Promise<void> {
    this.reconnects++;
    const ws = new WebSocket(wsUrl(this.url));
    this.ws = ws;
    return new Promise((resolve) => {
      this.synced = resolve;
      ws.onopen = () => ws.send(JSON.stringify({ token: this.token }));
      ws.onclose = () => resolve();
      ws.onmessage = (event) => {
        const f = JSON.parse(String(event.data));
        if (f.type === "ready") this.sync();
        else if (f.type === "new_message" && f.message.conversation_id === this.conversationId) {
          this.received++;
          const prior = this.got.get(f.message.seq);
          if (prior && prior !== f.message.id) this.got.set(-f.message.seq, "CONFLICT");
          this.got.set(f.message.seq, f.message.id);
        } else if (f.type === "sync_done") {
          if (f.has_more) this.sync();
          else {
            this.synced?.();
            this.synced = null;
          }
        }
      };
    });
  }

  close() {
    this.ws?.close();
    this.ws = null;
  }
}

export async function ordering(quick: boolean): Promise<ScenarioResult> {
  const failures: string[] = [];
  const server = new BinaryServer();
  await server.start();
  const api = client(server.url);
  const senderCount = quick ? 3 : 6;
  const receiverCount = quick ? 3 : 6;
  const perSender = quick ? 150 : 600;
  const people = await users(api, senderCount + receiverCount, "ord");
  const senders = people.slice(0, senderCount);
  const receivers = people.slice(senderCount);
  const group = (await api.group(senders[0]!.token, "ordering", people.slice(1).map((p) => p.user.id))).body.id as string;

  let stop = false;
  const clients = receivers.map((r) => new Receiver(server.url, r.token, group));
  const churn = clients.map(async (c) => {
    while (!stop) {
      await c.connect();
      await Bun.sleep(100 + Math.random() * 400);
      c.close();
      await Bun.sleep(Math.random() * 300);
    }
  });
  let serverErrors = 0;
  await Promise.all(
    senders.map(async (s, si) => {
      for (let i = 0; i < perSender; i += 4) {
        const batch = Array.from({ length: Math.min(4, perSender - i) }, (_, k) => api.send(s.token, group, `s${si} m${i + k}`, `s${si}-${i + k}`));
        for (const res of await Promise.all(batch)) if (res.status >= 500) serverErrors++;
      }
    }),
  );
  stop = true;
  await Promise.all(churn);
  // Final catch-up, as a client does after its last reconnect.
  for (const c of clients) {
    await c.connect();
    c.close();
  }

  await server.kill("SIGTERM");
  const db = server.openDb();
  const rows = db.query<{ seq: number; id: string }, [string]>("SELECT seq, id FROM messages WHERE conversation_id = ? ORDER BY seq").all(group);
  db.close();
  server.cleanup();
  const total = senderCount * perSender;
  if (rows.length !== total) failures.push(`${rows.length} rows stored for ${total} sends`);
  if (rows.some((r, i) => r.seq !== i + 1)) failures.push("seq in the database is not 1..n");
  let missing = 0;
  let mismatched = 0;
  let conflicts = 0;
  for (const c of clients) {
    for (const r of rows) {
      const id = c.got.get(r.seq);
      if (!id) missing++;
      else if (id !== r.id) mismatched++;
    }
    conflicts += [...c.got.keys()].filter((k) => k < 0).length;
  }
  if (missing) failures.push(`${missing} messages missing from receivers' histories`);
  if (mismatched || conflicts) failures.push(`${mismatched} seqs with the wrong id, ${conflicts} seqs seen with two ids`);
  if (serverErrors) failures.push(`${serverErrors} 5xx`);
  const received = clients.reduce((s, c) => s + c.received, 0);
  const reconnects = clients.reduce((s, c) => s + c.reconnects, 0);
  const syncRounds = clients.reduce((s, c) => s + c.syncRounds, 0);
  return {
    line: `messages=${total} receivers=${receiverCount} reconnects=${reconnects} sync_rounds=${syncRounds} frames_received=${received} (dupes before de-dup=${received - receiverCount * total}) missing=${missing} wrong=${mismatched + conflicts} gaps=${rows.some((r, i) => r.seq !== i + 1) ? "yes" : 0}`,
    failures,
  };
}

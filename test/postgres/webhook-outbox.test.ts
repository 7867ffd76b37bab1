// The webhook outbox on PostgreSQL with several workers over one database (as several instances
// run them) and a real local receiver: every event is delivered, in order per conversation, never
// by two workers at once; a worker killed mid-delivery has its events sent by another after its
// lease; a waiting event nobody promoted (the promotion race) is made due by the repair; and the
// claims themselves, step by step through the adapter.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { silentLogger } from "../../src/lib/logger";
import { createWebhookWorker, type WebhookWorker } from "../../src/modules/webhooks/worker";
import type { PgDb } from "../../src/storage/postgres/client";
import { PgWebhookOutbox } from "../../src/storage/postgres/stores/webhook-outbox";
import { PgWebhookStore } from "../../src/storage/postgres/stores/webhooks";
import { postgresMissing } from "../support/postgres";
import { startReceiver, unique, type Delivery, type Receiver } from "../webhooks/receiver";
import { pgDatabases, seedConversation, seedUsers } from "./helpers";

const database = pgDatabases();
const WORKER_PROCESS = join(import.meta.dir, "webhook-worker-process.ts");

const receivers: Receiver[] = [];
const workers: WebhookWorker[] = [];
const processes: Bun.Subprocess[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  for (const p of processes.splice(0)) p.kill("SIGKILL");
});
afterAll(() => receivers.forEach((r) => r.close()));

/** A worker over its own pool; `delivered` counts the deliveries it made (its resolver is asked once per delivery). */
function worker(db: PgDb, options: { leaseMs?: number; repairEveryMs?: number; retryWindowMs?: number } = {}) {
  const made = { count: 0 };
  const w = createWebhookWorker({
    outbox: new PgWebhookOutbox(db, { repairEveryMs: options.repairEveryMs }),
    allowPrivate: true,
    timeoutMs: 10_000,
    log: silentLogger,
    pollMs: 20,
    baseBackoffMs: 50,
    ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}),
    ...(options.retryWindowMs ? { retryWindowMs: options.retryWindowMs } : {}),
    lookup: async () => {
      made.count++;
      return ["127.0.0.1"];
    },
  });
  workers.push(w);
  return made;
}

async function setup(receiver: Receiver, conversations: number) {
  const { db, url, connect } = await database();
  const [u] = await seedUsers(db, "alice");
  for (let c = 0; c < conversations; c++) await seedConversation(db, `c${c}`, u!);
  // A name, not the address: each worker's resolver stub answers it (and counts its deliveries).
  await db.$client`INSERT INTO webhooks (id, url, events, secret, concurrency, created_at)
    VALUES ('h1', ${`http://hooks.invalid:${receiver.port}/in`}, ',message.created,', 'whsec_test', 4, ${Date.now()})`;
  const seq = new Map<string, number>();
  const send = async (conversation: string, n: number) => {
    for (let i = 0; i < n; i++) {
      const s = (seq.get(conversation) ?? 0) + 1;
      seq.set(conversation, s);
      await db.$client`INSERT INTO messages (id, conversation_id, seq, sender_id, content, rev, created_at, updated_at)
        VALUES (${Bun.randomUUIDv7()}, ${conversation}, ${s}, ${u}, ${`${conversation}:${s}`}, ${s}, ${Date.now()}, ${Date.now()})`;
    }
  };
  const outboxRows = async () => Number((await db.$client`SELECT count(*) AS n FROM webhook_outbox`)[0].n);
  return { db, url, connect, send, outboxRows };
}

/** The seq of each delivery of `conversation`, in arrival order. */
const seqsOf = (deliveries: Delivery[], conversation: string) =>
  deliveries.filter((d) => d.data.conversation_id === conversation).map((d) => Number(String(d.data.content).split(":")[1]));

const increasing = (xs: number[]) => xs.every((x, i) => i === 0 || x > xs[i - 1]!);

async function until(done: () => boolean | Promise<boolean>, what: string) {
  const deadline = Date.now() + 30_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error("never: " + what);
    await Bun.sleep(20);
  }
}

describe.skipIf(postgresMissing !== null)("webhook outbox on PostgreSQL, several workers", () => {
  test("two workers deliver every event once, in order per conversation, never the same one at once", async () => {
    const open = new Set<string>();
    const twice: string[] = [];
    const r = startReceiver(async (d) => {
      if (open.has(d.id)) twice.push(d.id);
      open.add(d.id);
      await Bun.sleep(1); // lets deliveries overlap
      open.delete(d.id);
      return new Response("ok");
    });
    receivers.push(r);
    const { send, connect, outboxRows } = await setup(r, 6);
    await Promise.all([0, 1, 2].map((c) => send(`c${c}`, 15)));
    const a = worker(connect(), { repairEveryMs: 100 });
    const b = worker(connect(), { repairEveryMs: 100 });
    // More events while both deliver: new heads and promotions race with the recording.
    await Promise.all([0, 1, 2, 3, 4, 5].map((c) => send(`c${c}`, 15)));
    const total = 3 * 15 + 6 * 15;
    await r.until((d) => d.length >= total, 30_000);
    await until(async () => (await outboxRows()) === 0, "every delivery recorded");

    expect(twice).toEqual([]);
    expect(r.deliveries).toHaveLength(total);
    expect(unique(r.deliveries)).toHaveLength(total);
    for (let c = 0; c < 6; c++) {
      const seqs = seqsOf(r.deliveries, `c${c}`);
      expect(seqs).toEqual(Array.from({ length: c < 3 ? 30 : 15 }, (_, i) => i + 1));
    }
    // Both instances took part.
    expect(a.count).toBeGreaterThan(0);
    expect(b.count).toBeGreaterThan(0);
    expect(a.count + b.count).toBe(total);
  });

  test("a worker killed mid-delivery has its event sent by the other after the lease, then the rest in order", async () => {
    let held: string | null = null;
    const r = startReceiver((d, attempt) => {
      // The first attempt at c0's third event never gets an answer: the worker dies waiting.
      if (d.data.content === "c0:3" && attempt === 0) {
        held = d.id;
        return new Promise<Response>(() => {});
      }
      return new Response("ok");
    });
    receivers.push(r);
    const { send, url, connect, outboxRows } = await setup(r, 2);
    await send("c0", 6);

    const first = Bun.spawn([process.execPath, "run", WORKER_PROCESS, url, "1000"], { stdout: "pipe", stderr: "inherit" });
    processes.push(first);
    await r.until(() => held !== null);
    first.kill("SIGKILL");
    await first.exited;
    // One conversation only so far: the held event was its one delivery in flight, so every later one is the other's.
    const sentByFirst = r.deliveries.length;
    await send("c1", 3);

    const other = worker(connect());
    await until(async () => (await outboxRows()) === 0, "every event delivered by the other worker");
    const events = 9;
    expect(unique(r.deliveries)).toHaveLength(events);
    // The held event went out again with the same id; every conversation's first deliveries are in order.
    expect(r.deliveries.filter((d) => d.id === held).length).toBe(2);
    for (const c of ["c0", "c1"]) {
      const firsts = seqsOf(unique(r.deliveries), c);
      expect(increasing(firsts)).toBe(true);
      // What the second worker sent of each conversation is in order too (redeliveries included).
      expect(increasing(seqsOf(r.deliveries.slice(sentByFirst), c))).toBe(true);
    }
    expect(seqsOf(r.deliveries.slice(sentByFirst), "c0")[0]).toBeLessThanOrEqual(3);
    expect(other.count).toBe(r.deliveries.length - sentByFirst);
  });

  test("an event left waiting with no pending predecessor (a promotion lost to a concurrent commit) is made due", async () => {
    // c0:1 keeps failing, so c0:2 and c0:3 wait behind it (NULL) while the worker runs.
    const r = startReceiver((d) => (d.data.content === "c0:1" ? new Response("no", { status: 500 }) : new Response("ok")));
    receivers.push(r);
    const { db, send, connect, outboxRows } = await setup(r, 1);
    await send("c0", 3);
    worker(connect(), { repairEveryMs: 50 });
    await r.until((d) => d.length >= 1);
    // As if c0:1 had been recorded delivered by a transaction that did not see c0:2 yet: nobody promoted it.
    await db.$client`DELETE FROM webhook_outbox WHERE id = (SELECT min(id) FROM webhook_outbox)`;
    const before = r.deliveries.length;
    await until(async () => (await outboxRows()) === 0, "the waiting events delivered");
    expect(seqsOf(r.deliveries.slice(before), "c0").filter((s) => s !== 1)).toEqual([2, 3]);
  });

  test("claims: only a key's oldest pending event, never one another worker holds; the next only under the holder's lease", async () => {
    const r = startReceiver();
    receivers.push(r);
    const { db, send } = await setup(r, 2);
    await send("c0", 3);
    await send("c1", 1);
    const a = new PgWebhookOutbox(db);
    const b = new PgWebhookOutbox(db);
    const none = new Set<number>();
    const claimed = await a.claimDue("h1", 10, Date.now(), 60_000, none);
    expect(claimed.map((e) => e.payload).map((p) => JSON.parse(p).content)).toEqual(["c0:1", "c1:1"]);
    expect(await b.claimDue("h1", 10, Date.now(), 60_000, none)).toEqual([]);
    const [c01] = claimed;
    // Another worker cannot chain behind an event it does not hold.
    expect(await b.claimNext({ ...c01!, leaseUntil: c01!.leaseUntil! + 1 }, Date.now(), 60_000)).toBeNull();
    const c02 = await a.claimNext(c01!, Date.now(), 60_000);
    expect(JSON.parse(c02!.payload).content).toBe("c0:2");
    // As after a crash of `a` with both leases run out: only the oldest goes out again, not its successor.
    await db.$client`UPDATE webhook_outbox SET next_attempt_at = 1 WHERE next_attempt_at > 1`;
    expect((await b.claimDue("h1", 10, Date.now(), 60_000, none)).map((e) => JSON.parse(e.payload).content)).toEqual(["c0:1", "c1:1"]);
    // The old holder's outcome no longer counts: its lease is gone.
    await a.record([{ event: c01!, at: Date.now(), error: null }]);
    expect(await a.pending()).toBe(4);
  });

  test("a worker that stops gives its claims back: another sends them at once, not after the lease", async () => {
    let held = false;
    const r = startReceiver((d, attempt) => {
      if (d.data.content === "c0:1" && attempt === 0) {
        held = true;
        return new Promise<Response>(() => {});
      }
      return new Response("ok");
    });
    receivers.push(r);
    const { send, connect, outboxRows } = await setup(r, 1);
    await send("c0", 3);
    worker(connect()); // the default lease: the webhook timeout + 60 s
    await r.until(() => held);
    await workers.pop()!.stop();
    worker(connect());
    await until(async () => (await outboxRows()) === 0, "the given-back events delivered by the other worker");
    expect(seqsOf(r.deliveries, "c0")).toEqual([1, 1, 2, 3]);
  });

  test("an event failing past the retry window is kept as failed and counted; its conversation's next event goes out", async () => {
    const r = startReceiver((d) => (d.data.content === "c0:1" ? new Response("no", { status: 500 }) : new Response("ok")));
    receivers.push(r);
    const { db, send, connect } = await setup(r, 1);
    await send("c0", 2);
    worker(connect(), { retryWindowMs: 300 });
    await r.until((d) => d.some((x) => x.data.content === "c0:2"));
    const hooks = new PgWebhookStore(db);
    await until(async () => (await hooks.list())[0]!.deliveredCount === 1, "the delivery recorded");
    expect((await hooks.list())[0]).toMatchObject({ deliveredCount: 1, failedCount: 1, pending: 0, lastError: "HTTP 500" });
    expect(await db.$client`SELECT status FROM webhook_outbox`).toEqual([{ status: "failed" }]);
    expect(r.deliveries.filter((d) => d.data.content === "c0:1").length).toBeGreaterThan(1);
  });
});

// The delivery worker on its own (short retry window, fast backoff) over a real data directory and a
// real receiver: giving up after the window unblocks the conversation, the per-hook concurrency
// limit holds, and an endless response body does not stall a delivery.
import type { Database } from "bun:sqlite";
import { afterAll, afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config";
import type { Db } from "../../src/db/client";
import { DB_FILE, openDataDir } from "../../src/db/data-dir";
import { externalChanges } from "../../src/db/external-changes";
import { silentLogger } from "../../src/lib/logger";
import { addWebhook } from "../../src/modules/webhooks/service";
import { sqliteStorage } from "../../src/db/stores";
import { hooksOf } from "./hooks";
import { createWebhookWorker, type WebhookWorker, type WebhookWorkerOptions } from "../../src/modules/webhooks/worker";
import { SqliteWebhookOutbox } from "../../src/db/stores/webhook-outbox";
import { startReceiver, type Receiver } from "./receiver";

let dir: string;
let db: Db;
let worker: WebhookWorker | null = null;
let outbox: SqliteWebhookOutbox | null = null;
const receivers: Receiver[] = [];
afterAll(() => receivers.forEach((r) => r.close()));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "chat-webhook-worker-"));
  db = openDataDir({ ...loadConfig([], {}), dataDir: dir });
  const at = Date.now();
  db.$client.run(
    "INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at) VALUES ('u1', 'u1', 'u1', 'u1@x', 'u1@x', '!', ?, ?)",
    [at, at],
  );
});
afterEach(async () => {
  await worker?.stop();
  worker = null;
  outbox?.close();
  outbox = null;
  db.$client.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A worker on its own connection to the data directory's database, unless `client` shares one. */
function run(options: Partial<WebhookWorkerOptions> & { client?: Database } = {}) {
  const { client, ...rest } = options;
  outbox = new SqliteWebhookOutbox(client ? { client } : { path: join(dir, DB_FILE) });
  return (worker = createWebhookWorker({ outbox, allowPrivate: true, timeoutMs: 5000, log: silentLogger, pollMs: 20, baseBackoffMs: 50, ...rest }));
}

function conversation(id: string) {
  const at = Date.now();
  db.$client.run("INSERT INTO conversations (id, is_group, created_by, last_activity_at, created_at, updated_at) VALUES (?, 1, 'u1', ?, ?, ?)", [id, at, at, at]);
}
function message(conversationId: string, seq: number, content: string) {
  const at = Date.now();
  db.$client.run("INSERT INTO messages (id, conversation_id, seq, sender_id, content, created_at, updated_at) VALUES (?, ?, ?, 'u1', ?, ?, ?)", [
    Bun.randomUUIDv7(),
    conversationId,
    seq,
    content,
    at,
    at,
  ]);
}

/** Outbox rows not yet recorded as delivered (or given up on). */
const pending = () => db.$client.query<{ n: number }, []>("SELECT count(*) AS n FROM webhook_outbox").get()!.n;

async function until(done: () => boolean, what: string) {
  const deadline = Date.now() + 15_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("never: " + what);
    await Bun.sleep(20);
  }
}

test("an event failing past the retry window is kept as failed, and the conversation's next event goes out after it", async () => {
  let poisonFailedFor = false;
  const r = startReceiver((d) => {
    if (d.data.content === "poison") return new Response("no", { status: 500 });
    poisonFailedFor = hooksOf(db)[0]!.failed === 1;
    return new Response("ok");
  });
  receivers.push(r);
  const hook = await addWebhook(sqliteStorage(db), { url: r.url, events: "message.created", allowPrivate: true });
  conversation("c1");
  message("c1", 1, "poison");
  message("c1", 2, "fine");
  run({ retryWindowMs: 400 });
  await until(() => r.deliveries.some((d) => d.data.content === "fine"), "the next event delivered");
  expect(poisonFailedFor).toBe(true);
  expect(r.deliveries.filter((d) => d.data.content === "poison").length).toBeGreaterThan(1);
  await until(() => hooksOf(db)[0]!.delivered === 1, "delivery recorded");
  expect(hooksOf(db)[0]).toMatchObject({ id: hook.id, delivered: 1, failed: 1, pending: 0, last_error: "HTTP 500" });
  const kept = db.$client.query<{ status: string; attempts: number }, []>("SELECT status, attempts FROM webhook_outbox").all();
  expect(kept).toHaveLength(1);
  expect(kept[0]!.status).toBe("failed");
  expect(worker!.metrics()).toContain("chat_webhook_events_failed_total 1");
});

test("no more deliveries of one hook are in flight than its concurrency, one per conversation", async () => {
  let open = 0;
  let most = 0;
  const perConversation = new Map<string, number>();
  const twoAtOnce: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((done) => (release = done));
  const r = startReceiver(async (d) => {
    open++;
    most = Math.max(most, open);
    const c = d.data.conversation_id as string;
    perConversation.set(c, (perConversation.get(c) ?? 0) + 1);
    if (perConversation.get(c)! > 1) twoAtOnce.push(c);
    await gate;
    open--;
    perConversation.set(c, perConversation.get(c)! - 1);
    return new Response("ok");
  });
  receivers.push(r);
  await addWebhook(sqliteStorage(db), { url: r.url, events: "message.created", allowPrivate: true, concurrency: 2 });
  for (let c = 0; c < 6; c++) {
    conversation(`c${c}`);
    for (let seq = 1; seq <= 2; seq++) message(`c${c}`, seq, `m${c}.${seq}`);
  }
  run();
  await until(() => open === 2, "two in flight");
  await Bun.sleep(200); // several polls: none may start a third
  expect(most).toBe(2);
  release();
  await until(() => hooksOf(db)[0]!.delivered === 12, "all delivered");
  expect(most).toBe(2);
  expect(r.deliveries.length).toBe(12);
  expect(twoAtOnce).toEqual([]);
});

test("a 2xx with an endless body counts as delivered without reading it", async () => {
  const r = startReceiver(
    () =>
      new Response(
        new ReadableStream({
          pull(controller) {
            controller.enqueue(new Uint8Array(64 * 1024));
          },
        }),
      ),
  );
  receivers.push(r);
  await addWebhook(sqliteStorage(db), { url: r.url, events: "message.created", allowPrivate: true });
  conversation("c1");
  message("c1", 1, "one");
  message("c1", 2, "two");
  run();
  await until(() => hooksOf(db)[0]!.delivered === 2, "both delivered");
  expect(hooksOf(db)[0]!.last_error).toBeNull();
});

test("a delivery connects to the address its check resolved, never resolving the name again (DNS rebinding)", async () => {
  const r = startReceiver();
  receivers.push(r);
  // .invalid never resolves through real DNS: a delivery can only arrive through the stub's answer.
  await addWebhook(sqliteStorage(db), { url: `http://rebind.invalid:${r.port}/hook`, events: "message.created", allowPrivate: true });
  conversation("c1");
  message("c1", 1, "one");
  message("c1", 2, "two");
  const asked: string[] = [];
  run({
    lookup: async (host) => {
      asked.push(host);
      return ["127.0.0.1"];
    },
  });
  await r.until((d) => d.length >= 2, 15_000);
  expect(r.deliveries.map((d) => [d.data.content, d.host, d.path])).toEqual([
    ["one", `rebind.invalid:${r.port}`, "/hook"],
    ["two", `rebind.invalid:${r.port}`, "/hook"],
  ]);
  // One resolution per delivery, by the worker: the HTTP client connected to what it was given.
  expect(asked).toEqual(["rebind.invalid", "rebind.invalid"]);
});

test("a name that resolves inward at delivery time is refused before any connection", async () => {
  const r = startReceiver();
  receivers.push(r);
  await addWebhook(sqliteStorage(db), { url: `http://inward.invalid:${r.port}/hook`, events: "message.created", allowPrivate: true });
  conversation("c1");
  message("c1", 1, "one");
  run({ allowPrivate: false, lookup: async () => ["203.0.113.7", "10.1.2.3"] });
  const lastError = () =>
    db.$client.query<{ last_error: string | null }, []>("SELECT last_error FROM webhook_outbox").get()?.last_error ?? null;
  await until(() => lastError() !== null, "the delivery attempt recorded");
  expect(lastError()).toContain("inward.invalid resolves to 10.1.2.3, a private address");
  expect(r.deliveries).toHaveLength(0);
});

test("a name that resolves to an IPv4-translated or local-use NAT64 address of loopback is refused at delivery time", async () => {
  const r = startReceiver();
  receivers.push(r);
  const inward = { "siit.invalid": "::ffff:0:7f00:1", "nat64.invalid": "64:ff9b:1::7f00:1" };
  for (const name of Object.keys(inward)) {
    await addWebhook(sqliteStorage(db), { url: `http://${name}:${r.port}/hook`, events: "message.created", allowPrivate: true });
  }
  conversation("c1");
  message("c1", 1, "one");
  run({ allowPrivate: false, lookup: async (host) => [inward[host as keyof typeof inward]] });
  const errors = () =>
    db.$client
      .query<{ url: string; last_error: string | null }, []>("SELECT w.url, o.last_error FROM webhook_outbox o JOIN webhooks w ON w.id = o.hook_id ORDER BY w.url")
      .all();
  await until(() => errors().length === 2 && errors().every((e) => e.last_error !== null), "both delivery attempts recorded");
  expect(errors().map((e) => e.last_error)).toEqual([
    expect.stringContaining("nat64.invalid resolves to 64:ff9b:1::7f00:1, a local-use NAT64"),
    expect.stringContaining("siit.invalid resolves to ::ffff:0:7f00:1, a loopback address"),
  ]);
  expect(r.deliveries).toHaveLength(0);
});

test("on the server's own connection, recorded deliveries are not another process's change (caches stay)", async () => {
  const r = startReceiver();
  receivers.push(r);
  await addWebhook(sqliteStorage(db), { url: r.url, events: "message.created", allowPrivate: true });
  conversation("c1");
  const changes = externalChanges(db);
  const before = changes.version();
  for (let seq = 1; seq <= 5; seq++) message("c1", seq, `m${seq}`);
  run({ client: db.$client });
  await r.until((d) => d.length >= 5);
  await until(() => pending() === 0, "every delivery recorded");
  await Bun.sleep(5); // past external-changes' re-read interval
  expect(changes.version()).toBe(before);
  // And the shared connection keeps its own durability and lock wait.
  expect(db.$client.query<{ synchronous: number }, []>("PRAGMA synchronous").get()!.synchronous).toBe(2);
  expect(db.$client.query<{ timeout: number }, []>("PRAGMA busy_timeout").get()!.timeout).toBe(5000);
});

test("on its own connection, recorded deliveries are another connection's commits (why the server shares its own)", async () => {
  const r = startReceiver();
  receivers.push(r);
  await addWebhook(sqliteStorage(db), { url: r.url, events: "message.created", allowPrivate: true });
  conversation("c1");
  const changes = externalChanges(db);
  const before = changes.version();
  message("c1", 1, "m1");
  run();
  await r.until((d) => d.length >= 1);
  await until(() => pending() === 0, "the delivery recorded");
  await Bun.sleep(5);
  expect(changes.version()).toBeGreaterThan(before);
});

test("a recording refused at once (SQLITE_BUSY, thrown synchronously) is retried, and the event loop keeps turning", async () => {
  const r = startReceiver(() => new Response("ok"));
  receivers.push(r);
  await addWebhook(sqliteStorage(db), { url: r.url, events: "message.created", allowPrivate: true });
  conversation("c1");
  for (let seq = 1; seq <= 3; seq++) message("c1", seq, `m${seq}`);
  // The lock is held elsewhere for the first attempts: SQLite throws before any await.
  let refusals = 5;
  const shared = new SqliteWebhookOutbox({ path: join(dir, DB_FILE) });
  const record = shared.record.bind(shared);
  shared.record = (outcomes) => {
    if (refusals-- > 0) throw Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" });
    return record(outcomes);
  };
  outbox = shared;
  worker = createWebhookWorker({ outbox: shared, allowPrivate: true, timeoutMs: 5000, log: silentLogger, pollMs: 20, baseBackoffMs: 50 });
  // Timers fire while the refusals last: before the fix the worker spun in microtasks for good.
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 10);
  try {
    await until(() => pending() === 0, "every delivery recorded after the refusals");
  } finally {
    clearInterval(ticker);
  }
  expect(refusals).toBeLessThan(0);
  expect(ticks).toBeGreaterThan(0);
  expect(new Set(r.deliveries.map((d) => d.data.content))).toEqual(new Set(["m1", "m2", "m3"]));
});

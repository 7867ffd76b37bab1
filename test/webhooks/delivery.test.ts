// Webhook deliveries from a real server to a real local receiver: signature, payload, order per
// conversation under failures, retries after 500 and timeouts, redirects refused, /metrics.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { client, API, type Api } from "../support/api";
import { ISO_MS } from "../support/expect";
import { startTestServer, type TestServer } from "../support/server";
import { addWebhook, removeWebhook } from "../../src/modules/webhooks/service";
import { sqliteStorage } from "../../src/db/stores";
import { hooksOf } from "./hooks";
import { verifySignature } from "../../src/modules/webhooks/signature";
import { startReceiver, unique, type Receiver } from "./receiver";

let server: TestServer;
let api: Api;
const receivers: Receiver[] = [];

beforeAll(async () => {
  server = await startTestServer({ webhookAllowPrivate: true, webhookTimeoutSeconds: 1, rateLimit: false });
  api = client(server.url);
});
afterAll(async () => {
  for (const r of receivers) r.close();
  await server.close();
});

function receiver(...args: Parameters<typeof startReceiver>) {
  const r = startReceiver(...args);
  receivers.push(r);
  return r;
}

const hookFor = (r: Receiver, events: string, extra: { conversationId?: string; concurrency?: number; path?: string } = {}) =>
  addWebhook(sqliteStorage(server.db), { url: r.url + (extra.path ?? "/hook"), events, allowPrivate: true, ...extra });

async function pair() {
  const a = await api.newUser("wa");
  const b = await api.newUser("wb");
  const dm = await api.dm(a.token, b.user.id);
  expect(dm.status).toBe(201);
  return { a, b, conversationId: dm.body.id as string };
}

const stats = (id: string) => hooksOf(server.db).find((h) => h.id === id)!;

async function untilStats(id: string, done: (s: ReturnType<typeof stats>) => boolean) {
  const deadline = Date.now() + 20_000;
  while (!done(stats(id))) {
    if (Date.now() > deadline) throw new Error(`hook stats never matched: ${JSON.stringify(stats(id))}`);
    await Bun.sleep(25);
  }
}

describe("webhook deliveries", () => {
  test("a message.created delivery is signed with the hook's secret and carries the message as the API shows it", async () => {
    const r = receiver();
    const { a, conversationId } = await pair();
    // Subscribed to this conversation only: another conversation's message must not arrive.
    const hook = await hookFor(r, "message.created", { conversationId });
    const other = await pair();
    await api.send(other.a.token, other.conversationId, "not for this hook");
    const sent = await api.send(a.token, conversationId, "hello hooks");
    expect(sent.status).toBe(201);
    await r.until((d) => d.length >= 1);
    const [d] = r.deliveries;
    expect(Object.keys(JSON.parse(d!.raw)).sort()).toEqual(["created_at", "data", "id", "type"]);
    expect(d!.type).toBe("message.created");
    expect(typeof d!.id).toBe("string");
    expect(d!.created_at).toMatch(ISO_MS);
    expect(d!.data).toMatchObject({
      id: sent.body.id,
      conversation_id: conversationId,
      sender_id: a.user.id,
      content: "hello hooks",
      seq: sent.body.seq,
      created_at: sent.body.created_at,
      edited_at: null,
      deleted_at: null,
    });
    expect(verifySignature(hook.secret, d!.signature, d!.raw)).toBe(true);
    expect(verifySignature(hook.secret, d!.signature, d!.raw.replace("hello", "jello"))).toBe(false);
    expect(verifySignature("whsec_wrong", d!.signature, d!.raw)).toBe(false);
    await untilStats(hook.id, (s) => s.delivered === 1 && s.pending === 0);
    removeWebhook(sqliteStorage(server.db), hook.id);
  });

  test("user.created, member.added and conversation.updated carry no private fields", async () => {
    const r = receiver();
    const hook = await hookFor(r, "user.created,member.added,conversation.updated");
    const a = await api.newUser("wu");
    const b = await api.newUser("wv");
    const group = await api.group(a.token, "before", [b.user.id]);
    expect(group.status).toBe(201);
    const renamed = await api.put(`${API}/conversations/${group.body.id}`, { name: "after" }, a.token);
    expect(renamed.status).toBe(200);
    await r.until((d) => d.some((x) => x.type === "conversation.updated"));
    const created = r.deliveries.filter((d) => d.type === "user.created").map((d) => d.data);
    expect(created.map((u) => u.id)).toEqual([a.user.id, b.user.id]);
    for (const u of created) {
      expect(Object.keys(u).sort()).toEqual(["avatar_url", "bio", "created_at", "full_name", "id", "username"]);
    }
    expect(r.raw()).not.toContain("argon2");
    expect(r.raw()).not.toContain("@example.com");
    const added = r.deliveries.filter((d) => d.type === "member.added").map((d) => [d.data.conversation_id, d.data.user_id, d.data.role]);
    expect(added).toEqual([
      [group.body.id, a.user.id, "owner"],
      [group.body.id, b.user.id, "member"],
    ]);
    expect(r.deliveries.find((d) => d.type === "conversation.updated")!.data).toMatchObject({ id: group.body.id, name: "after", is_group: true });
    removeWebhook(sqliteStorage(server.db), hook.id);
  });

  test("edits, deletions, reactions and member removals made in SQL (as any code path makes them) emit their events", async () => {
    const r = receiver();
    const hook = await hookFor(r, "message.updated,message.deleted,reaction.changed,member.removed");
    const { a, b, conversationId } = await pair();
    const sent = await api.send(a.token, conversationId, "first draft");
    const sql = server.db.$client;
    const at = Date.now();
    sql.run("UPDATE messages SET content = 'second draft', edited_at = ?, updated_at = ? WHERE id = ?", [at, at, sent.body.id]);
    sql.run("UPDATE messages SET rev = rev + 1 WHERE id = ?", [sent.body.id]); // no visible change: no event
    sql.run("INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES (?, ?, '👍', ?)", [sent.body.id, b.user.id, at]);
    sql.run("DELETE FROM reactions WHERE message_id = ?", [sent.body.id]);
    sql.run("UPDATE messages SET content = '', deleted_at = ?, updated_at = ? WHERE id = ?", [at + 1, at + 1, sent.body.id]);
    sql.run("UPDATE messages SET updated_at = ? WHERE id = ?", [at + 2, sent.body.id]); // already deleted: no event
    sql.run("DELETE FROM members WHERE conversation_id = ? AND user_id = ?", [conversationId, b.user.id]);
    await r.until((d) => d.length >= 5);
    await untilStats(hook.id, (s) => s.pending === 0);
    expect(r.deliveries.map((d) => d.type)).toEqual(["message.updated", "reaction.changed", "reaction.changed", "message.deleted", "member.removed"]);
    const [updated, added, removed, deleted, left] = r.deliveries.map((d) => d.data);
    expect(updated).toMatchObject({ id: sent.body.id, content: "second draft", edited_at: new Date(at).toISOString(), deleted_at: null });
    expect(added).toEqual({ message_id: sent.body.id, conversation_id: conversationId, user_id: b.user.id, emoji: "👍", action: "added", created_at: new Date(at).toISOString() });
    expect(removed).toMatchObject({ action: "removed", emoji: "👍" });
    expect(deleted).toMatchObject({ id: sent.body.id, content: "", deleted_at: new Date(at + 1).toISOString() });
    expect(left).toMatchObject({ conversation_id: conversationId, user_id: b.user.id, role: "member" });
    removeWebhook(sqliteStorage(server.db), hook.id);
  });

  test("a conversation's events arrive in commit order: the next waits until the previous got a 2xx", async () => {
    const acked = new Map<string, number>();
    const violations: string[] = [];
    const r = receiver((d, attempt) => {
      const conv = d.data.conversation_id as string;
      const last = acked.get(conv) ?? 0;
      if (d.data.seq !== last + 1 && d.data.seq !== last) violations.push(`${conv} seq ${d.data.seq} after ${last}`);
      // Every third message fails its first attempt.
      if (d.data.seq % 3 === 0 && attempt === 0) return new Response("try later", { status: 500 });
      acked.set(conv, Math.max(last, d.data.seq));
      return new Response("ok");
    });
    const hook = await hookFor(r, "message.created", { concurrency: 4 });
    const one = await pair();
    const two = await pair();
    for (let i = 0; i < 7; i++) {
      await Promise.all([api.send(one.a.token, one.conversationId, `one ${i}`), api.send(two.b.token, two.conversationId, `two ${i}`)]);
    }
    await r.until(() => acked.get(one.conversationId) === 7 && acked.get(two.conversationId) === 7, 30_000);
    expect(violations).toEqual([]);
    for (const { conversationId } of [one, two]) {
      const seqs = unique(r.deliveries.filter((d) => d.data.conversation_id === conversationId)).map((d) => d.data.seq);
      expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7]);
    }
    await untilStats(hook.id, (s) => s.delivered === 14);
    expect(stats(hook.id).failed_attempts).toBe(4);
    removeWebhook(sqliteStorage(server.db), hook.id);
  }, 40_000);

  test("after a 500 and a timeout the same event (same id) is sent again until a 2xx; list and /metrics count the failures", async () => {
    const r = receiver(async (_d, attempt) => {
      if (attempt === 0) return new Response("boom", { status: 500 });
      if (attempt === 1) await Bun.sleep(2500); // past the 1 s timeout
      return new Response("ok");
    });
    const hook = await hookFor(r, "message.created");
    const { a, conversationId } = await pair();
    const sent = await api.send(a.token, conversationId, "retry me");
    await untilStats(hook.id, (s) => s.delivered === 1);
    const mine = r.deliveries.filter((d) => d.data.id === sent.body.id);
    expect(mine.length).toBe(3);
    expect(new Set(mine.map((d) => d.id)).size).toBe(1);
    const s = stats(hook.id);
    expect(s.failed_attempts).toBe(2);
    expect(s.failed).toBe(0);
    expect(s.last_error).toContain("no answer within 1 s");
    const metrics = await fetch(server.url + "/metrics").then((res) => res.text());
    const failed = Number(metrics.match(/chat_webhook_deliveries_total\{result="failed"\} (\d+)/)?.[1]);
    expect(failed).toBeGreaterThanOrEqual(2);
    expect(metrics).toMatch(/chat_webhook_events_pending \d+/);
    removeWebhook(sqliteStorage(server.db), hook.id);
  }, 30_000);

  test("a redirect is a failed attempt and is never followed", async () => {
    const r = receiver((d) => (d.path === "/hook" ? new Response(null, { status: 307, headers: { location: "/elsewhere" } }) : new Response("ok")));
    const hook = await hookFor(r, "message.created");
    const { a, conversationId } = await pair();
    await api.send(a.token, conversationId, "go away");
    await untilStats(hook.id, (s) => s.failed_attempts >= 1);
    expect(stats(hook.id).last_error).toContain("HTTP 307 (redirects are not followed)");
    expect(stats(hook.id).delivered).toBe(0);
    expect(r.deliveries.every((d) => d.path === "/hook")).toBe(true);
    removeWebhook(sqliteStorage(server.db), hook.id);
  });
});

test("messages committed on the writer thread (its own connection) reach the outbox too", async () => {
  const threaded = await startTestServer({ webhookAllowPrivate: true, rateLimit: false, writerThread: true });
  try {
    const r = receiver();
    await addWebhook(sqliteStorage(threaded.db), { url: r.url, events: "message.created", allowPrivate: true });
    const threadedApi = client(threaded.url);
    const a = await threadedApi.newUser("wt");
    const b = await threadedApi.newUser("wt");
    const dm = await threadedApi.dm(a.token, b.user.id);
    const sent = await Promise.all([1, 2, 3].map((i) => threadedApi.send(a.token, dm.body.id, `threaded ${i}`)));
    await r.until((d) => d.length >= 3);
    expect(r.deliveries.map((d) => d.data.id).sort()).toEqual(sent.map((m) => m.body.id).sort());
    expect(r.deliveries.map((d) => d.data.seq)).toEqual([1, 2, 3]);
  } finally {
    await threaded.close();
  }
});

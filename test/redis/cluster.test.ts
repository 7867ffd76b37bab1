// Two instances over one database with fan-out through a real redis-server: what one instance
// commits reaches the other's sockets live, membership moves and session ends act on both, and
// presence is the cluster's.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { API, client, type Api } from "../support/api";
import { ConversationStates } from "../../src/db/stores/conversation-states";
import type { RemoteChange } from "../../src/realtime/redis-bus";
import { followRemoteChanges } from "../../src/realtime/redis-caches";
import { redisAvailable, startCluster, type SecondInstance, type TestCluster } from "../support/redis";
import type { TestServer } from "../support/server";
import { barrier, closeAll, connect, newMessages } from "../support/socket";

const suite = redisAvailable ? describe : describe.skip;

let cluster: TestCluster;
let a: TestServer;
let b: SecondInstance;
let apiA: Api;
let apiB: Api;

suite("two instances through Redis", () => {
  beforeAll(async () => {
    cluster = await startCluster({ rateLimit: false });
    ({ a, b } = cluster);
    apiA = client(a.url);
    apiB = client(b.url);
  });
  afterAll(() => cluster?.close());

  test("a message sent on A arrives live on B, and one sent on B's socket on A, each once and in order", async () => {
    const alice = await apiA.newUser("alice");
    const bob = await apiA.newUser("bob");
    const dm = await apiA.dm(alice.token, bob.user.id);
    const onB = await connect(b.url, bob.token);
    const onA = await connect(a.url, alice.token);
    for (let i = 1; i <= 5; i++) expect((await apiA.send(alice.token, dm.body.id, `from A ${i}`)).status).toBe(201);
    await onB.waitFor((f) => f.type === "new_message" && f.message.seq === 5);
    onB.send({ type: "message", conversation_id: dm.body.id, content: "from B" });
    const ack = await onB.waitType("message_ack");
    const relayed = await onA.waitFor((f) => f.type === "new_message" && f.message.seq === 6);
    expect(relayed.message).toEqual(ack.message);
    await barrier(onA, onB);
    expect(newMessages(onB, dm.body.id).map((f) => f.message.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(newMessages(onA, dm.body.id).map((f) => f.message.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    closeAll(onA, onB);
  });

  test("a member added on A is subscribed on B's open socket at once", async () => {
    const alice = await apiA.newUser("alice");
    const bob = await apiA.newUser("bob");
    const carol = await apiA.newUser("carol");
    const group = await apiA.group(alice.token, "grows", [bob.user.id]);
    const carolOnB = await connect(b.url, carol.token);
    // conversation_updated goes to members A knows to be online: wait until B's "carol is on" reached A.
    while (!a.hub.isOnline(carol.user.id)) await Bun.sleep(10);
    const added = await apiA.post(`${API}/conversations/${group.body.id}/members`, { user_ids: [carol.user.id] }, alice.token);
    expect(added.status).toBe(200);
    const updated = await carolOnB.waitType("conversation_updated");
    expect(updated.conversation.id).toBe(group.body.id);
    const sent = await apiA.send(alice.token, group.body.id, "welcome carol");
    expect((await carolOnB.waitType("new_message")).message.id).toBe(sent.body.id);
    // And removed on A: B's socket stops hearing the conversation.
    expect((await apiA.request("DELETE", `${API}/conversations/${group.body.id}/members/${carol.user.id}`, { token: alice.token })).status).toBe(204);
    await carolOnB.waitType("conversation_removed");
    await apiA.send(alice.token, group.body.id, "after carol left");
    const bobOnA = await connect(a.url, bob.token);
    await apiA.send(alice.token, group.body.id, "marker");
    await bobOnA.waitFor((f) => f.type === "new_message" && f.message.content === "marker");
    await barrier(carolOnB);
    expect(newMessages(carolOnB, group.body.id).map((f) => f.message.content)).toEqual(["welcome carol"]);
    closeAll(carolOnB, bobOnA);
  });

  test("a password change on A ends the user's sessions on B (4401)", async () => {
    const dave = await apiA.newUser("dave");
    const onB = await connect(b.url, dave.token);
    const onA = await connect(a.url, dave.token);
    const changed = await apiA.put(`${API}/users/me`, { password: "a brand new passphrase", current_password: dave.password }, dave.token);
    expect(changed.status).toBe(200);
    expect((await onB.waitClose()).code).toBe(4401);
    expect((await onA.waitClose()).code).toBe(4401);
  });

  test("presence is the cluster's: a user online only on B is online on A, and its contacts on A hear it come and stay", async () => {
    const erin = await apiA.newUser("erin");
    const frank = await apiA.newUser("frank");
    await apiA.dm(erin.token, frank.user.id);
    const watcher = await connect(a.url, erin.token);
    expect((await apiA.get(`${API}/users/${frank.user.id}`, erin.token)).body.is_online).toBe(false);
    const onB = await connect(b.url, frank.token);
    const online = await watcher.waitFor((f) => f.type === "presence" && f.user_id === frank.user.id);
    expect(online.is_online).toBe(true);
    // The relayed "on" reached A: is_online through A (polled: the event crosses the broker).
    for (let i = 0; ; i++) {
      if ((await apiA.get(`${API}/users/${frank.user.id}`, erin.token)).body.is_online) break;
      if (i > 100) throw new Error("A never saw frank online");
      await Bun.sleep(50);
    }
    // A second device on A: nobody is told again, frank was already online in the cluster.
    const second = await connect(a.url, frank.token);
    await barrier(watcher);
    expect(watcher.ofType("presence").filter((f) => f.user_id === frank.user.id)).toHaveLength(1);
    closeAll(watcher, onB, second);
  });

  test("going offline is the cluster's: moving from B to A announces nothing, leaving the last instance announces offline once", async () => {
    const ivy = await apiA.newUser("ivy");
    const jack = await apiA.newUser("jack");
    await apiA.dm(ivy.token, jack.user.id);
    const watcher = await connect(a.url, ivy.token);
    const onB = await connect(b.url, jack.token);
    await watcher.waitFor((f) => f.type === "presence" && f.user_id === jack.user.id && f.is_online);
    const onA = await connect(a.url, jack.token);
    onB.close();
    // B's grace period ends (its timer has run) while jack is still on A: nobody is told.
    while (b.hub.lingering.has(jack.user.id) || b.hub.socketCount(jack.user.id) > 0) await Bun.sleep(50);
    await barrier(watcher);
    expect(watcher.ofType("presence").filter((f) => f.user_id === jack.user.id).map((f) => f.is_online)).toEqual([true]);
    expect((await apiB.get(`${API}/users/${jack.user.id}`, ivy.token)).body.is_online).toBe(true);
    onA.close();
    await watcher.waitFor((f) => f.type === "presence" && f.user_id === jack.user.id && !f.is_online, 15_000);
    for (let i = 0; (await apiB.get(`${API}/users/${jack.user.id}`, ivy.token)).body.is_online; i++) {
      if (i > 100) throw new Error("B still sees jack online");
      await Bun.sleep(50);
    }
    await barrier(watcher);
    expect(watcher.ofType("presence").filter((f) => f.user_id === jack.user.id).map((f) => f.is_online)).toEqual([true, false]);
    closeAll(watcher);
  });

  test("B keeps a conversation cache exact from A's relayed commits and read marks alone (a database without data_version)", async () => {
    const alice = await apiA.newUser("alice");
    const bob = await apiA.newUser("bob");
    const carol = await apiA.newUser("carol");
    const group = await apiA.group(alice.token, "cached", [bob.user.id]);
    // A cache of its own over the same handle: A's commits on that handle do not move SQLite's
    // data_version, so only what B relays can keep it current, as with PostgreSQL.
    const states = new ConversationStates(a.db);
    expect(states.get(group.body.id)).toMatchObject({ lastSeq: 0 });
    const seen: RemoteChange[] = [];
    const follow = followRemoteChanges(states);
    const hub = b.hub as unknown as { onRemote?: (change: RemoteChange) => void };
    const original = hub.onRemote;
    hub.onRemote = (change) => {
      seen.push(change);
      if ("conversationId" in change && change.conversationId === group.body.id) follow(change);
    };
    try {
      const until = async (what: string, ok: () => boolean) => {
        for (let i = 0; !ok(); i++) {
          if (i > 200) throw new Error(`never relayed: ${what}; got ${JSON.stringify(seen)}`);
          await Bun.sleep(25);
        }
      };
      const sent = await apiA.send(alice.token, group.body.id, "cached?");
      await until("the message", () => seen.some((c) => c.kind === "revision" && c.seq === 1 && c.conversationId === group.body.id));
      expect(states.get(group.body.id)).toMatchObject({ lastSeq: 1, rev: sent.body.rev });
      // Entries of one instance arrive in order: the group's creation was relayed before the message.
      const from = seen.length;
      await apiA.post(`${API}/conversations/${group.body.id}/members`, { user_ids: [carol.user.id] }, alice.token);
      await until("the member", () => seen.slice(from).some((c) => c.kind === "members" && c.conversationId === group.body.id));
      expect([...states.get(group.body.id)!.cursors.keys()].sort()).toEqual([alice.user.id, bob.user.id, carol.user.id].sort());
      // A read cursor moved on A moves in B's cache too (unread counts and is_read there).
      expect((await apiA.put(`${API}/messages/${sent.body.id}/read`, {}, bob.token)).status).toBe(200);
      await until("the read", () => seen.some((c) => c.kind === "read" && c.userId === bob.user.id && c.seq === 1));
      expect(states.get(group.body.id)!.cursors.get(bob.user.id)).toBe(1);
    } finally {
      hub.onRemote = original;
    }
  });

  test("/health names the broker and /metrics counts relayed events per instance", async () => {
    const health = await apiA.get("/health");
    expect(health.status).toBe(200);
    expect(health.body.broker).toBe("ok");
    expect((await apiB.get("/health")).body.broker).toBe("ok");
    const metrics = await fetch(`${a.url}/metrics`).then((r) => r.text());
    const relayed = Number(/^chat_broker_events_relayed_total (\d+)$/m.exec(metrics)?.[1]);
    expect(relayed).toBeGreaterThan(0);
    expect(metrics).toMatch(/^chat_broker_up 1$/m);
  });
});

suite("the login budget is the cluster's", () => {
  let limited: TestCluster;
  beforeAll(async () => {
    limited = await startCluster();
  });
  afterAll(() => limited?.close());

  test("ten wrong passwords on A leave none for B (429 with Retry-After)", async () => {
    const api = client(limited.a.url);
    const gina = await api.newUser("gina");
    // Its successful login reset the account's budget: ten wrong tries on A spend all of it.
    for (let i = 0; i < 10; i++) expect((await api.post(`${API}/auth/login`, { username: gina.user.username, password: "wrong password" })).status).toBe(401);
    const onB = await client(limited.b.url).post(`${API}/auth/login`, { username: gina.user.username, password: gina.password });
    expect(onB.status).toBe(429);
    expect(Number(onB.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});

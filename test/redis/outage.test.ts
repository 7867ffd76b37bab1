// The broker fails: a redis-server killed (-9) and restarted empty in the middle of a stream of
// messages. Both instances close their sockets with 1012 once it is back, a client that
// reconnects and syncs ends up with every message, and live fan-out works again. And a lost
// stream entry (an instance that committed but never got its XADD through) is a gap the others
// repair from the database (and do not deliver twice when the entry comes after all).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { API, client, type Api } from "../support/api";
import { redisAvailable, startCluster, type SecondInstance, type TestCluster, type TestRedis } from "../support/redis";
import type { TestServer } from "../support/server";
import { barrier, closeAll, connect, newMessages, type TestSocket } from "../support/socket";
import { RedisClient } from "bun";
import { CLOSE_BROKER_RESYNC } from "../../src/realtime/redis-bus";

const suite = redisAvailable ? describe : describe.skip;

let cluster: TestCluster;
let redis: TestRedis;
let a: TestServer;
let b: SecondInstance;
let api: Api;

/** Syncs the conversation from `since` until sync_done without has_more; returns the seqs it got. */
async function syncAll(s: TestSocket, conversationId: string, since: number): Promise<number[]> {
  const seqs: number[] = [];
  for (;;) {
    const from = s.frames.length;
    s.send({ type: "sync", since: { [conversationId]: since } });
    const done = await s.waitFor((f) => f.type === "sync_done", 10_000, from);
    const got = s.frames.slice(from).filter((f) => f.type === "new_message" && f.message.conversation_id === conversationId).map((f) => f.message.seq);
    seqs.push(...got);
    since = Math.max(since, ...got);
    if (!done.has_more) return seqs;
  }
}

suite("a broker outage", () => {
  beforeAll(async () => {
    cluster = await startCluster({ rateLimit: false });
    ({ redis, a, b } = cluster);
    api = client(a.url);
  });
  afterAll(() => cluster?.close());

  test("Redis killed and restarted mid-stream: sockets close with 1012, the client resyncs every message, live fan-out resumes", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const dm = await api.dm(alice.token, bob.user.id);
    // Bob's device on B, Alice's on A; each side sends while the broker is down.
    const firstB = await connect(b.url, bob.token);
    const firstA = await connect(a.url, alice.token);
    for (let i = 1; i <= 4; i++) expect((await api.send(alice.token, dm.body.id, `before ${i}`)).status).toBe(201);
    await firstB.waitFor((f) => f.type === "new_message" && f.message.seq === 4);

    await redis.kill();
    // Acknowledged while the broker is down: committed, but the other instance cannot hear of them.
    for (let i = 5; i <= 10; i++) {
      const [who, via] = i % 2 ? [alice, api] : [bob, client(b.url)];
      expect((await via.send(who.token, dm.body.id, `during ${i}`)).status).toBe(201);
    }
    for (;;) {
      if ((await api.get("/health")).body.broker === "unreachable") break;
      await Bun.sleep(25);
    }
    await redis.run();

    // Both instances close their sockets once the broker is back; each client resyncs and has it all.
    for (const [first, url, token] of [[firstB, b.url, bob.token], [firstA, a.url, alice.token]] as const) {
      expect((await first.waitClose()).code).toBe(CLOSE_BROKER_RESYNC);
      const held = new Set(newMessages(first, dm.body.id).map((f) => f.message.seq));
      const again = await connect(url, token);
      // From the last seq it holds without a hole, as the SDK does (it got its own instance's live).
      let since = 0;
      while (held.has(since + 1)) since++;
      for (const seq of await syncAll(again, dm.body.id, since)) held.add(seq);
      expect([...held].sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      closeAll(again);
    }
    const second = await connect(b.url, bob.token);

    // Live again: A's next message reaches B's new socket through the restarted broker.
    const sent = await api.send(alice.token, dm.body.id, "after");
    expect((await second.waitFor((f) => f.type === "new_message" && f.message.seq === 11)).message.id).toBe(sent.body.id);
    expect((await api.get("/health")).body.broker).toBe("ok");
    const metrics = await fetch(`${a.url}/metrics`).then((r) => r.text());
    expect(Number(/^chat_broker_resyncs_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    closeAll(second);
  });

  test("a rev whose stream entry is late is repaired on B from the database, and not delivered again when it comes", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const dm = await api.dm(alice.token, bob.user.id);
    const onB = await connect(b.url, bob.token);
    await api.send(alice.token, dm.body.id, "one");
    await onB.waitFor((f) => f.type === "new_message" && f.message.seq === 1);
    // A commits the next message but its entry is held back (as if A stalled before its XADD).
    const hub = a.hub as any;
    const append = hub.append;
    const held: unknown[] = [];
    hub.append = (fields: unknown) => held.push(fields);
    const late = await api.send(alice.token, dm.body.id, "late on the way");
    hub.append = append;
    await api.send(alice.token, dm.body.id, "three");
    const repaired = await onB.waitFor((f) => f.type === "new_message" && f.message.seq === 2);
    expect(repaired.message.id).toBe(late.body.id);
    expect(repaired.message.content).toBe("late on the way");
    expect(b.hub.stats.gapsRepaired).toBeGreaterThanOrEqual(1);
    // The held entry arrives after all: B delivered that message already and does not again.
    for (const fields of held) append.call(hub, fields);
    await api.send(alice.token, dm.body.id, "four");
    await onB.waitFor((f) => f.type === "new_message" && f.message.seq === 4);
    await barrier(onB);
    expect(newMessages(onB, dm.body.id).map((f) => f.message.seq)).toEqual([1, 3, 2, 4]);
    closeAll(onB);
  });

  test("an entry no instance wrote (no topic, no payload) is skipped: no resync, the next events flow", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const dm = await api.dm(alice.token, bob.user.id);
    const onB = await connect(b.url, bob.token);
    const resyncs = b.hub.stats.resyncs;
    const junk = new RedisClient(redis.url);
    await junk.send("XADD", ["chat:events", "*", "i", "someone-else", "k", "p"]);
    await junk.send("XADD", ["chat:events", "*", "garbage", "entry"]);
    junk.close();
    const sent = await api.send(alice.token, dm.body.id, "still flowing");
    expect((await onB.waitType("new_message")).message.id).toBe(sent.body.id);
    await barrier(onB);
    expect(onB.closed).toBeNull();
    expect(b.hub.stats.resyncs).toBe(resyncs);
    expect(b.hub.brokerState()).toBe("ok");
    closeAll(onB);
  });
});

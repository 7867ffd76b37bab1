// Three compiled instances on one PostgreSQL database and one Redis: a message sent on A arrives live
// on B and C; concurrent sends from all three give seq 1..N with no gap; one client_msg_id sent to
// A and B at once stores one message.
import { describe, expect, test } from "bun:test";
import { restHistory, type TestUser } from "../support/api";
import { barrier, closeAll, connect, newMessages } from "../support/socket";
import { ConvergingClient, until } from "./client";
import { clusterForFile, clusterSkipReason } from "./support";

describe.skipIf(clusterSkipReason !== null)("three instances on PostgreSQL and Redis", () => {
  const ctx = clusterForFile();

  /** Users signed up on different instances (any instance serves any user). */
  const users = (n: number): Promise<TestUser[]> => Promise.all(Array.from({ length: n }, (_, i) => ctx.apis[i % ctx.apis.length]!.newUser(`u${i}`)));

  test("every instance reports the database and the broker in /health", async () => {
    for (const api of ctx.apis) {
      const health = await api.get("/health");
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({ status: "ok", broker: "ok" });
    }
  });

  test("a message sent on A arrives live on B and C, once, and a reply from C on A and B", async () => {
    const [alice, bob, carol] = await users(3);
    const group = await ctx.apis[0]!.group(alice!.token, "three instances", [bob!.user.id, carol!.user.id]);
    expect(group.status).toBe(201);
    const onA = await connect(ctx.cluster.urls[0]!, alice!.token);
    const onB = await connect(ctx.cluster.urls[1]!, bob!.token);
    const onC = await connect(ctx.cluster.urls[2]!, carol!.token);
    onA.send({ type: "message", conversation_id: group.body.id, content: "hello from A", client_msg_id: "a-1" });
    const ack = await onA.waitType("message_ack");
    for (const s of [onB, onC]) expect((await s.waitType("new_message", 10_000)).message).toEqual(ack.message);
    onC.send({ type: "message", conversation_id: group.body.id, content: "hello from C", client_msg_id: "c-1" });
    for (const s of [onA, onB]) await s.waitFor((f) => f.type === "new_message" && f.message.seq === 2, 10_000);
    await barrier(onA, onB, onC);
    for (const s of [onA, onB, onC]) expect(newMessages(s, group.body.id).map((f) => f.message.seq)).toEqual([1, 2]);
    closeAll(onA, onB, onC);
  });

  test("concurrent sends to one conversation from all three instances give seq 1..N with no gap, live everywhere", async () => {
    const PER_INSTANCE = 40;
    const members = await users(3);
    const group = await ctx.apis[0]!.group(members[0]!.token, "contended", members.slice(1).map((m) => m.user.id));
    const conv = group.body.id as string;
    const clients = members.map((m) => new ConvergingClient(m.token, [conv]));
    await Promise.all(clients.map((c, i) => c.connect(ctx.cluster.urls[i]!)));
    // Socket sends and REST sends at once, from every instance.
    const rest: Promise<unknown>[] = [];
    for (let k = 0; k < PER_INSTANCE; k++) {
      clients.forEach((c, i) => {
        if (k % 2) c.send(conv, `ws ${i}.${k}`, `ws-${i}-${k}`);
        else rest.push(ctx.apis[i]!.send(members[i]!.token, conv, `rest ${i}.${k}`, `rest-${i}-${k}`).then((r) => expect(r.status).toBe(201)));
      });
    }
    await Promise.all(rest);
    const total = 3 * PER_INSTANCE;
    const history = await restHistory(ctx.apis[1]!, members[1]!.token, conv);
    expect(history.map((m) => m.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(new Set(history.map((m) => m.client_msg_id)).size).toBe(total);
    // Live, without a sync: every socket ends up holding all of them (relayed or repaired).
    for (const c of clients) await until(`a client holds ${total} messages`, () => c.upTo(conv) === total);
    for (const c of clients) expect(c.unacked.size).toBe(0);
    for (const c of clients) c.close();
  });

  test("one client_msg_id sent to A and B at once stores one message, and both answers name it", async () => {
    const [alice, bob] = await users(2);
    const dm = await ctx.apis[0]!.dm(alice!.token, bob!.user.id);
    const conv = dm.body.id as string;
    for (let round = 0; round < 10; round++) {
      const id = `twice-${round}`;
      const [onA, onB] = await Promise.all([ctx.apis[0]!.send(alice!.token, conv, `round ${round}`, id), ctx.apis[1]!.send(alice!.token, conv, `round ${round}`, id)]);
      expect([onA.status, onB.status].sort()).toEqual([200, 201]);
      expect(onA.body.id).toBe(onB.body.id);
      expect(onA.body.seq).toBe(onB.body.seq);
    }
    // And over sockets on B and C at once.
    const onB = await connect(ctx.cluster.urls[1]!, alice!.token);
    const onC = await connect(ctx.cluster.urls[2]!, alice!.token);
    for (const s of [onB, onC]) s.send({ type: "message", conversation_id: conv, content: "socket twice", client_msg_id: "socket-twice" });
    const [ackB, ackC] = await Promise.all([onB.waitType("message_ack"), onC.waitType("message_ack")]);
    expect(ackB.message.id).toBe(ackC.message.id);
    closeAll(onB, onC);
    const history = await restHistory(ctx.apis[2]!, bob!.token, conv);
    expect(history.map((m) => m.client_msg_id)).toEqual([...Array.from({ length: 10 }, (_, i) => `twice-${i}`), "socket-twice"]);
    expect(history.map((m) => m.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
  });
});

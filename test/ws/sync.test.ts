// Catching up after a reconnect: sync sends the missed new_message events in seq order, at most 500 per
// conversation per round, then sync_done; repeating while has_more ends with exactly the REST history.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SYNC_BYTES_PER_SECOND, SYNC_MAX_CONVERSATIONS_PER_ROUND } from "../../src/realtime/protocol";
import { type Api, client, restHistory } from "../support/api";
import { startTestServer, type TestServer } from "../support/server";
import { barrier, closeAll, connect, errorFor, type Frame, type TestSocket } from "../support/socket";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

/** One sync round: the frames it produced, up to and including its sync_done. */
async function syncRound(s: TestSocket, since: Record<string, number>) {
  const from = s.frames.length;
  s.send({ type: "sync", since });
  const done = await s.waitFor((f) => f.type === "sync_done", 30_000, from);
  const frames = s.frames.slice(from, s.frames.indexOf(done));
  return { done, messages: frames.filter((f) => f.type === "new_message").map((f) => f.message), frames };
}

/** The client's reconnect loop: sync from its last seqs until has_more is false, de-duplicating by seq. */
async function syncAll(s: TestSocket, since: Record<string, number>) {
  const have = new Map<string, Map<number, any>>(Object.keys(since).map((id) => [id, new Map()]));
  const positions = { ...since };
  let rounds = 0;
  for (;;) {
    rounds++;
    const { done, messages } = await syncRound(s, positions);
    for (const m of messages) have.get(m.conversation_id)!.set(m.seq, m);
    // Resume from the end of the gap-free prefix, not the highest seq seen: a live new_message can land
    // inside a round ahead of older messages the round has not reached yet.
    for (const [id, held] of have) while (held.has(positions[id]! + 1)) positions[id]!++;
    if (!done.has_more) break;
    if (rounds > 50) throw new Error("sync never finished");
  }
  const result = (id: string) => [...have.get(id)!.values()].sort((x, y) => x.seq - y.seq);
  return { rounds, result, positions };
}

/**
 * Sends n messages over a socket, 50 at a time: a burst of hundreds of large messages would queue more
 * acks and echoes for the sender than Bun's backpressure limit and get the sender dropped (rightly).
 */
async function fill(s: TestSocket, conversationId: string, n: number, content = (i: number) => `m${i}`) {
  const tag = crypto.randomUUID();
  for (let start = 0; start < n; start += 50) {
    const end = Math.min(n, start + 50);
    for (let i = start; i < end; i++) s.send({ type: "message", conversation_id: conversationId, content: content(i), client_msg_id: `${tag}-${i}` });
    await s.waitFor((f) => f.type === "message_ack" && f.client_msg_id === `${tag}-${end - 1}`, 30_000);
    s.frames.length = 0;
  }
}

const seqsOf = (messages: any[]) => messages.map((m) => m.seq);

describe("sync", () => {
  test("a round reads a bounded number of conversations with news; the rest comes back as has_more", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const n = SYNC_MAX_CONVERSATIONS_PER_ROUND + 5;
    const groups: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = (await api.group(alice.token, `g${i}`, [bob.user.id])).body.id as string;
      expect((await api.send(alice.token, id, `hello ${i}`)).status).toBe(201);
      groups.push(id);
    }
    // A conversation without news costs nothing and does not count.
    const quiet = (await api.group(alice.token, "quiet", [bob.user.id])).body.id as string;
    const b = await connect(server.url, bob.token);
    const since = Object.fromEntries([[quiet, 0], ...groups.map((id) => [id, 0])]);
    const first = await syncRound(b, since);
    expect(first.done.has_more).toBe(true);
    expect(new Set(first.messages.map((m) => m.conversation_id)).size).toBe(SYNC_MAX_CONVERSATIONS_PER_ROUND);
    const all = await syncAll(b, since);
    expect(all.rounds).toBe(2);
    for (const id of groups) expect(seqsOf(all.result(id))).toEqual([1]);
    b.close();
  });

  test("1,500 ids of conversations the user is not in are ignored: sync_done without has_more, nothing sent", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const dm = (await api.dm(alice.token, bob.user.id)).body.id as string;
    await api.send(alice.token, dm, "the one that counts");
    const b = await connect(server.url, bob.token);
    const since: Record<string, number> = {};
    for (let i = 0; i < 1_500; i++) since[crypto.randomUUID()] = 0;
    since[dm] = 0;
    const { done, messages } = await syncRound(b, since);
    expect(done).toEqual({ type: "sync_done", has_more: false });
    expect(messages.map((m) => m.content)).toEqual(["the one that counts"]);
    b.close();
  });

  test("messages sent while a client was away arrive in seq order, then sync_done; they equal REST history", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const carol = await api.newUser("carol");
    const dm = (await api.dm(alice.token, bob.user.id)).body.id;
    const group = (await api.group(carol.token, "g", [alice.user.id, bob.user.id])).body.id;
    let b = await connect(server.url, bob.token);
    for (let i = 1; i <= 3; i++) await api.send(alice.token, dm, `before ${i}`);
    await b.waitFor((f) => f.type === "new_message" && f.message.seq === 3);
    b.close();
    await b.waitClose();
    // Bob is away: REST and socket sends, from two people, in two conversations; bob reads one on the way.
    const a = await connect(server.url, alice.token);
    for (let i = 4; i <= 8; i++) await api.send(alice.token, dm, `away ${i}`);
    await fill(a, dm, 4, (i) => `socket ${i}`);
    await api.send(bob.token, dm, "bob from another app");
    await api.send(carol.token, group, "group 1");
    await fill(a, group, 2);
    const dmHistory = await restHistory(api, bob.token, dm);
    await api.put(`/api/v1/messages/${dmHistory[5].id}/read`, {}, bob.token);

    b = await connect(server.url, bob.token);
    const { done, messages, frames } = await syncRound(b, { [dm]: 3, [group]: 0 });
    expect(done).toEqual({ type: "sync_done", has_more: false });
    expect(frames.every((f) => f.type === "new_message")).toBe(true);
    // Per conversation in seq order; each event is the REST view for bob (is_read included).
    const restDm = (await restHistory(api, bob.token, dm)).filter((m) => m.seq > 3);
    const restGroup = await restHistory(api, bob.token, group);
    expect(messages.filter((m) => m.conversation_id === dm)).toEqual(restDm);
    expect(messages.filter((m) => m.conversation_id === group)).toEqual(restGroup);
    expect(seqsOf(restDm)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    closeAll(a, b);
  });

  test("with more than 500 missed, has_more is true and a second round completes, exactly the history", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const big = (await api.dm(alice.token, bob.user.id)).body.id;
    const small = (await api.group(alice.token, "small", [bob.user.id])).body.id;
    const a = await connect(server.url, alice.token);
    await fill(a, big, 730);
    await fill(a, small, 30);
    a.close();

    const b = await connect(server.url, bob.token);
    const first = await syncRound(b, { [big]: 0, [small]: 0 });
    expect(first.done.has_more).toBe(true);
    const firstBig = first.messages.filter((m) => m.conversation_id === big);
    expect(seqsOf(firstBig)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(seqsOf(first.messages.filter((m) => m.conversation_id === small))).toHaveLength(30);
    const second = await syncRound(b, { [big]: 500, [small]: 30 });
    expect(second.done.has_more).toBe(false);
    expect(seqsOf(second.messages)).toEqual(Array.from({ length: 230 }, (_, i) => i + 501));

    const all = await syncAll(b, { [big]: 0, [small]: 0 });
    expect(all.rounds).toBe(2);
    expect(all.result(big)).toEqual(await restHistory(api, bob.token, big));
    expect(all.result(small)).toEqual(await restHistory(api, bob.token, small));
    // No duplicates: every seq once.
    expect(new Set(seqsOf(all.result(big))).size).toBe(730);
    b.close();
  });

  test("a sync while messages keep arriving live ends, after de-duplication, with exactly the history", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const dm = (await api.dm(alice.token, bob.user.id)).body.id;
    const a = await connect(server.url, alice.token);
    await fill(a, dm, 600);
    const b = await connect(server.url, bob.token);
    // Live sends race the sync rounds; the client keeps what either path brings, once per seq.
    const live = fill(a, dm, 120, (i) => `live ${i}`);
    const synced = await syncAll(b, { [dm]: 0 });
    await live;
    const last = (await restHistory(api, bob.token, dm)).at(-1).seq;
    await b.waitFor((f) => f.type === "new_message" && f.message.seq === last, 10_000);
    const seen = new Map<number, any>(synced.result(dm).map((m) => [m.seq, m]));
    for (const f of b.frames) if (f.type === "new_message") seen.set(f.message.seq, f.message);
    const merged = [...seen.values()].sort((x, y) => x.seq - y.seq);
    const rest = await restHistory(api, bob.token, dm);
    expect(seqsOf(merged)).toEqual(seqsOf(rest));
    expect(merged.map((m) => m.id)).toEqual(rest.map((m) => m.id));
    closeAll(a, b);
  });

  test("a live message can run ahead of a sync round: resuming from the gap-free prefix still gets everything", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const dm = (await api.dm(alice.token, bob.user.id)).body.id;
    const a = await connect(server.url, alice.token);
    await fill(a, dm, 650);
    const b = await connect(server.url, bob.token);
    const first = await syncRound(b, { [dm]: 0 });
    expect(first.done.has_more).toBe(true);
    // Seq 651 arrives live while the client still lacks 501..650.
    a.send({ type: "message", conversation_id: dm, content: "live" });
    await b.waitFor((f) => f.type === "new_message" && f.message.seq === 651);
    const held = new Set<number>([...first.messages.map((m) => m.seq), 651]);
    let since = 0;
    while (held.has(since + 1)) since++;
    expect(since).toBe(500); // not 651, the highest seq held
    const second = await syncRound(b, { [dm]: since });
    expect(second.done.has_more).toBe(false);
    for (const m of second.messages) held.add(m.seq);
    expect([...held].sort((x, y) => x - y)).toEqual(Array.from({ length: 651 }, (_, i) => i + 1));
    closeAll(a, b);
  });

  test("conversations the user is not in, or that do not exist, are ignored", async () => {
    const [alice, bob, eve] = await Promise.all(["alice", "bob", "eve"].map((p) => api.newUser(p)));
    const theirs = (await api.dm(alice!.token, bob!.user.id)).body.id;
    const mine = (await api.dm(eve!.token, alice!.user.id)).body.id;
    await api.send(alice!.token, theirs, "not for eve");
    await api.send(alice!.token, mine, "for eve");
    const e = await connect(server.url, eve!.token);
    const round = await syncRound(e, { [theirs]: 0, [crypto.randomUUID()]: 0, [mine]: 0 });
    expect(round.done.has_more).toBe(false);
    expect(round.frames.map((f: Frame) => f.message.content)).toEqual(["for eve"]);
    const only = await syncRound(e, { [theirs]: 0 });
    expect(only.frames).toEqual([]);
    expect(only.done.has_more).toBe(false);
    e.close();
  });

  test("nothing missed, nothing listed, or a position past the end: just sync_done", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const dm = (await api.dm(alice.token, bob.user.id)).body.id;
    await api.send(alice.token, dm, "one");
    const b = await connect(server.url, bob.token);
    for (const since of [{ [dm]: 1 }, { [dm]: 99 }, {}]) {
      const round = await syncRound(b, since);
      expect(round.frames).toEqual([]);
      expect(round.done).toEqual({ type: "sync_done", has_more: false });
    }
    b.send({ type: "sync" });
    expect((await b.waitType("sync_done")).has_more).toBe(false);
    b.close();
  });

  test("a malformed since is an error frame naming it, and the socket stays open", async () => {
    const alice = await api.newUser("alice");
    const a = await connect(server.url, alice.token);
    const id = crypto.randomUUID();
    const cases: [unknown, RegExp][] = [
      [[], /since/],
      ["abc", /since/],
      [{ "not-a-uuid": 1 }, /since\.not-a-uuid/],
      [{ [id]: -1 }, new RegExp(`since\\.${id}`)],
      [{ [id]: 1.5 }, /integer/],
      [{ [id]: "3" }, /integer/],
    ];
    for (const [since, detail] of cases) {
      const error = await errorFor(a, { type: "sync", since });
      expect(error.code).toBe("validation_error");
      expect(error.detail).toMatch(detail);
    }
    a.close();
  });

  test("a round of large messages ends early with has_more instead of overflowing the socket", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const dm = (await api.dm(alice.token, bob.user.id)).body.id;
    const a = await connect(server.url, alice.token);
    // 500 messages of 4000 emoji: ~8 MB of frames in one round, twice Bun's 4 MiB backpressure limit.
    await fill(a, dm, 500, (i) => `${i} ${"😀".repeat(3990)}`);
    a.close();
    const b = await connect(server.url, bob.token);
    const all = await syncAll(b, { [dm]: 0 });
    expect(all.rounds).toBeGreaterThan(1);
    expect(seqsOf(all.result(dm))).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    await barrier(b);
    b.close();
  }, 60_000);
});

describe("sync output budget", () => {
  test("a catch-up larger than the user's sync budget is paced, never refused, and ends with exactly the history", async () => {
    const paced = await startTestServer(); // rate limits on
    try {
      const papi = client(paced.url);
      const alice = await papi.newUser("alice");
      const bob = await papi.newUser("bob");
      const dm = (await papi.dm(alice.token, bob.user.id)).body.id as string;
      // More than the burst (two seconds' worth) of sync output, sent over REST.
      const count = Math.ceil((2.5 * SYNC_BYTES_PER_SECOND) / 4_300);
      for (let i = 0; i < count; i += 25) {
        const batch = Array.from({ length: Math.min(25, count - i) }, (_, j) => papi.send(alice.token, dm, `${i + j} ${"z".repeat(3_990)}`, `c${i + j}`));
        for (const res of await Promise.all(batch)) expect(res.status).toBe(201);
      }
      const b = await connect(paced.url, bob.token);
      const all = await syncAll(b, { [dm]: 0 });
      expect(all.rounds).toBeGreaterThan(1);
      expect(seqsOf(all.result(dm))).toEqual(Array.from({ length: count }, (_, i) => i + 1));
      expect(b.closed).toBeNull();
      b.close();
    } finally {
      await paced.close();
    }
  }, 60_000);
});

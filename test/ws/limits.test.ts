// Bad frames get an error frame naming the problem and the socket stays open; only oversized frames
// (1009), floods (1008), too many sockets (4429), a foreign Origin (403) and slow consumers end a socket.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Api, client, type TestUser } from "../support/api";
import { expectExactKeys } from "../support/expect";
import { startTestServer, type TestServer } from "../support/server";
import { barrier, closeAll, connect, devices, errorFor, newMessages, PausableSocket, rawSocket, wsUrl } from "../support/socket";

let server: TestServer;
let api: Api;
let alice: TestUser;
let bob: TestUser;
let dm: string;
let foreignDm: string;
let foreignMessage: string;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
  [alice, bob] = [await api.newUser("alice"), await api.newUser("bob")];
  const [carol, dave] = [await api.newUser("carol"), await api.newUser("dave")];
  dm = (await api.dm(alice.token, bob.user.id)).body.id;
  foreignDm = (await api.dm(carol.token, dave.user.id)).body.id;
  foreignMessage = (await api.send(carol.token, foreignDm, "not yours")).body.id;
});
afterAll(() => server.close());

describe("bad frames: an error frame naming the problem; the socket stays open", () => {
  const uuid = "0190a0a0-0000-7000-8000-000000000000";
  // [name, frame, code, detail pattern]; frames are functions so they can use ids made in beforeAll.
  const cases: [string, () => unknown, string, RegExp][] = [
    ["not JSON", () => "hello", "invalid_json", /JSON object/],
    ["truncated JSON", () => '{"type": "ping"', "invalid_json", /JSON object/],
    ["a JSON array", () => "[]", "invalid_json", /JSON object/],
    ["a JSON string", () => '"ping"', "invalid_json", /JSON object/],
    ["a JSON number", () => "42", "invalid_json", /JSON object/],
    ["JSON null", () => "null", "invalid_json", /JSON object/],
    ["no type", () => ({ conversation_id: dm }), "validation_error", /^type: required/],
    ["an unknown type", () => ({ type: "subscribe" }), "unknown_type", /type:.*subscribe/],
    ["a type that is not a string", () => ({ type: 7 }), "validation_error", /^type: must be a string/],
    ["a type that is an object with toString", () => ({ type: { toString: 1 } }), "validation_error", /^type: must be a string/],
    ["a type that is an array", () => ({ type: ["ping"] }), "validation_error", /^type: must be a string/],
    ["content that is an object with toString", () => ({ type: "message", conversation_id: dm, content: { toString: 1 } }), "validation_error", /^content:/],
    ["a conversation_id that is an object", () => ({ type: "typing", conversation_id: { toString: 1 } }), "validation_error", /^conversation_id:/],
    ["a since that is a string", () => ({ type: "sync", since: "x" }), "validation_error", /^since:/],
    ["message without content", () => ({ type: "message", conversation_id: dm }), "validation_error", /^content:/],
    ["message with numeric content", () => ({ type: "message", conversation_id: dm, content: 5 }), "validation_error", /^content: must be a string/],
    ["message with empty content", () => ({ type: "message", conversation_id: dm, content: "" }), "validation_error", /^content: must not be empty/],
    ["message with blank content", () => ({ type: "message", conversation_id: dm, content: " \n\t " }), "validation_error", /^content: must not be empty/],
    ["message with a lone high surrogate", () => ({ type: "message", conversation_id: dm, content: "ab\ud800cd" }), "validation_error", /^content: .*surrogate/],
    ["message with a lone low surrogate", () => ({ type: "message", conversation_id: dm, content: "\udfff" }), "validation_error", /^content: .*surrogate/],
    ["message with content over 4000 characters", () => ({ type: "message", conversation_id: dm, content: "x".repeat(4001) }), "validation_error", /^content: .*4000/],
    ["message without conversation_id or recipient_id", () => ({ type: "message", content: "hi" }), "validation_error", /conversation_id.*recipient_id/],
    ["message with an invalid conversation_id", () => ({ type: "message", conversation_id: "abc", content: "hi" }), "validation_error", /^conversation_id: must be a UUID/],
    ["message with a numeric conversation_id", () => ({ type: "message", conversation_id: 12, content: "hi" }), "validation_error", /^conversation_id: must be a string/],
    ["message with an invalid recipient_id", () => ({ type: "message", recipient_id: "bob", content: "hi" }), "validation_error", /^recipient_id: must be a UUID/],
    ["message with an unknown recipient", () => ({ type: "message", recipient_id: uuid, content: "hi" }), "validation_error", /^recipient_id: unknown user/],
    ["message to yourself by recipient_id", () => ({ type: "message", recipient_id: alice.user.id, content: "hi" }), "validation_error", /^recipient_id: .*one other user/],
    ["message with a numeric client_msg_id", () => ({ type: "message", conversation_id: dm, content: "hi", client_msg_id: 7 }), "validation_error", /^client_msg_id:/],
    ["message with a 129-character client_msg_id", () => ({ type: "message", conversation_id: dm, content: "hi", client_msg_id: "c".repeat(129) }), "validation_error", /^client_msg_id:/],
    ["message to a conversation the user is not in", () => ({ type: "message", conversation_id: foreignDm, content: "hi" }), "not_found", /Conversation not found/],
    ["message to a conversation that does not exist", () => ({ type: "message", conversation_id: uuid, content: "hi" }), "not_found", /Conversation not found/],
    ["mark_read without message_id", () => ({ type: "mark_read" }), "validation_error", /^message_id: required/],
    ["mark_read with an invalid message_id", () => ({ type: "mark_read", message_id: "42" }), "validation_error", /^message_id: must be a UUID/],
    ["mark_read of an unknown message", () => ({ type: "mark_read", message_id: uuid }), "not_found", /Message not found/],
    ["mark_read of a message in someone else's conversation", () => ({ type: "mark_read", message_id: foreignMessage }), "not_found", /Message not found/],
    ["typing without conversation_id", () => ({ type: "typing" }), "validation_error", /^conversation_id: required/],
    ["typing with an invalid conversation_id", () => ({ type: "typing", conversation_id: [dm] }), "validation_error", /^conversation_id: must be a string/],
    ["typing in a conversation the user is not in", () => ({ type: "typing", conversation_id: foreignDm }), "not_found", /Conversation not found/],
    ["sync with since not an object", () => ({ type: "sync", since: [dm] }), "validation_error", /^since:/],
  ];
  for (const [name, frame, code, detail] of cases) {
    test(name, async () => {
      const s = await connect(server.url, alice.token);
      const sent = frame();
      const error = await errorFor(s, sent);
      // ref only when the frame carried a client_msg_id string (even one that was itself the problem).
      const ref = (sent as any)?.client_msg_id;
      expectExactKeys(error, typeof ref === "string" ? ["code", "detail", "ref", "type"] : ["code", "detail", "type"]);
      if (typeof ref === "string") expect(error.ref).toBe(ref);
      expect(error.code).toBe(code);
      expect(error.detail).toMatch(detail);
      s.close();
    });
  }

  test("ref echoes the client_msg_id of a failed message, whatever failed", async () => {
    const s = await connect(server.url, alice.token);
    for (const frame of [
      { type: "message", conversation_id: dm, content: "", client_msg_id: "ref-1" },
      { type: "message", conversation_id: "nope", content: "hi", client_msg_id: "ref-2" },
      { type: "message", conversation_id: foreignDm, content: "hi", client_msg_id: "ref-3" },
      { type: "message", content: "hi", client_msg_id: "ref-4" },
    ]) {
      const error = await errorFor(s, frame);
      expect(error.ref).toBe(frame.client_msg_id);
      expect(error.type).toBe("error");
    }
    s.close();
  });

  test("after a run of bad frames the socket still sends, receives and acks", async () => {
    const s = await connect(server.url, alice.token);
    const b = await connect(server.url, bob.token);
    for (const frame of ["{", "[]", { type: "zzz" }, { type: "message", conversation_id: dm, content: "" }]) await errorFor(s, frame);
    s.send({ type: "message", conversation_id: dm, content: "still here", client_msg_id: "after-errors" });
    const ack = await s.waitType("message_ack");
    expect((await b.waitType("new_message")).message.id).toBe(ack.message.id);
    // Rejected frames stored and published nothing.
    await barrier(s, b);
    expect(newMessages(b)).toHaveLength(1);
    closeAll(s, b);
  });
});

describe("closing limits", () => {
  test("a frame over 64 KiB closes the socket with 1009; the user's other sockets are untouched", async () => {
    const [s, other] = await devices(server, alice, 2);
    s!.send({ type: "message", conversation_id: dm, content: "x".repeat(64 * 1024) });
    expect((await s!.waitClose(5000)).code).toBe(1009);
    await barrier(other!);
    other!.close();
  });

  test("a frame just under 64 KiB is read: an error for the content, the socket stays open", async () => {
    const s = await connect(server.url, alice.token);
    const frame = JSON.stringify({ type: "message", conversation_id: dm, content: "", client_msg_id: "big" });
    const padded = frame.replace('"content":""', `"content":"${"y".repeat(64 * 1024 - frame.length - 16)}"`);
    expect(Buffer.byteLength(padded)).toBeLessThan(64 * 1024);
    const error = await errorFor(s, padded);
    expect(error).toMatchObject({ code: "validation_error", ref: "big" });
    expect(error.detail).toMatch(/^content:/);
    s.close();
  });

  test("a frame flood (more than the burst waiting) closes the socket with 1008; a burst within the limit and other sockets are fine", async () => {
    const strict = await startTestServer({ wsMaxFramesPerSecond: 5 });
    try {
      const sapi = client(strict.url);
      const user = await sapi.newUser("flood");
      const [calm, noisy] = await devices(strict, user, 2);
      // The token frame counted in the first window; four more frames stay within five.
      for (let i = 0; i < 3; i++) calm!.send({ type: "ping" });
      await calm!.waitFor(() => calm!.ofType("pong").length === 3);
      for (let i = 0; i < 50; i++) noisy!.send({ type: "ping" });
      expect((await noisy!.waitClose(5000)).code).toBe(1008);
      expect(noisy!.ofType("pong").length).toBeLessThan(50);
      expect(calm!.closed).toBeNull();
      calm!.close();
      // A new socket after the flood works.
      const again = await connect(strict.url, user.token);
      await barrier(again);
      again.close();
    } finally {
      await strict.close();
    }
  });

  test("frames that queued up (a stopped process) may arrive as a burst of twice the per-second limit", async () => {
    const strict = await startTestServer({ wsMaxFramesPerSecond: 5 });
    try {
      const user = await client(strict.url).newUser("burst");
      const s = await connect(strict.url, user.token);
      // With the token frame, ten frames at once: over five in a second, within the burst of ten.
      for (let i = 0; i < 9; i++) s.send({ type: "ping" });
      await s.waitFor(() => s.ofType("pong").length === 9);
      expect(s.closed).toBeNull();
      // Past the burst the rate holds: a sustained flood is still closed.
      for (let i = 0; i < 50; i++) s.send({ type: "ping" });
      expect((await s.waitClose(5000)).code).toBe(1008);
    } finally {
      await strict.close();
    }
  });

  test("large frames count for more against the frame limit: a second 60 KB frame waits its turn, a third is a flood", async () => {
    const strict = await startTestServer({ wsMaxFramesPerSecond: 5 });
    try {
      const user = await client(strict.url).newUser("heavy");
      const s = await connect(strict.url, user.token);
      const since: Record<string, number> = {};
      while (JSON.stringify({ type: "sync", since }).length < 60_000) since[crypto.randomUUID()] = 0;
      // A burst of ten small frames is fine (above), but three frames of 60 KB cost more than ten.
      s.send({ type: "sync", since });
      s.send({ type: "sync", since });
      s.send({ type: "sync", since });
      expect((await s.waitClose(5000)).code).toBe(1008);
      expect(s.ofType("sync_done").length).toBeLessThan(2);
    } finally {
      await strict.close();
    }
  });

  test("a client that waits for each answer is slowed to the rate, never closed, and its frames keep their order", async () => {
    const strict = await startTestServer({ wsMaxFramesPerSecond: 20 });
    try {
      const user = await client(strict.url).newUser("steady");
      const s = await connect(strict.url, user.token);
      const started = performance.now();
      // One ping in flight at a time, twice the burst: the later ones wait for the budget.
      for (let i = 1; i <= 80; i++) {
        s.send({ type: "ping" });
        await s.waitFor(() => s.ofType("pong").length === i, 10_000);
      }
      expect(s.closed).toBeNull();
      // 40 frames of burst, then 20 a second: the other 40 cannot all have been answered at once.
      expect(performance.now() - started).toBeGreaterThan(1_000);
      // A few frames sent at once while the budget is spent wait and are answered in order.
      for (let i = 0; i < 5; i++) s.send({ type: "message", conversation_id: crypto.randomUUID(), content: "x", client_msg_id: `o${i}` });
      await s.waitFor(() => s.ofType("error").length === 5, 10_000);
      expect(s.ofType("error").map((e) => e.ref)).toEqual(["o0", "o1", "o2", "o3", "o4"]);
      expect(s.closed).toBeNull();
      s.close();
    } finally {
      await strict.close();
    }
  });

  test("more sockets than wsMaxSocketsPerUser: the extra one is closed with 4429, the others keep working", async () => {
    const capped = await startTestServer({ rateLimit: false, wsMaxSocketsPerUser: 2 });
    try {
      const capi = client(capped.url);
      const [user, friend] = [await capi.newUser("capped"), await capi.newUser("friend")];
      const conversation = (await capi.dm(user.token, friend.user.id)).body.id;
      const [one, two] = await devices(capped, user, 2);
      const third = rawSocket(capped.url);
      await third.opened;
      third.send({ token: user.token });
      expect((await third.waitClose(5000)).code).toBe(4429);
      expect(third.ofType("ready")).toHaveLength(0);
      // The cap is per user: the friend connects, and the first two still get events.
      const f = await connect(capped.url, friend.token);
      f.send({ type: "message", conversation_id: conversation, content: "hi" });
      for (const s of [one!, two!]) await s.waitType("new_message");
      // The same holds for a header-authenticated socket; and closing one frees a slot.
      const viaHeader = rawSocket(capped.url, { headers: { authorization: `Bearer ${user.token}` } });
      expect((await viaHeader.waitClose(5000)).code).toBe(4429);
      one!.close();
      await one!.waitClose();
      const deadline = Date.now() + 5000;
      while (capped.hub.socketCount(user.user.id) !== 1 && Date.now() < deadline) await Bun.sleep(10);
      const replacement = await connect(capped.url, user.token);
      await barrier(replacement, two!);
      closeAll(two!, replacement, f);
    } finally {
      await capped.close();
    }
  });

  test("a server shutting down closes sockets with 1001", async () => {
    const stopping = await startTestServer({ rateLimit: false });
    const user = await client(stopping.url).newUser("stop");
    const s = await connect(stopping.url, user.token);
    await stopping.close();
    expect((await s.waitClose(5000)).code).toBe(1001);
  });
});

describe("origin allow-list", () => {
  let guarded: TestServer;
  let gapi: Api;
  beforeAll(async () => {
    guarded = await startTestServer({ rateLimit: false, allowedOrigins: ["https://app.example"] });
    gapi = client(guarded.url);
  });
  afterAll(() => guarded.close());

  const upgradeHeaders = (origin: string) => ({
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-version": "13",
    "sec-websocket-key": Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64"),
    origin,
  });

  test("an upgrade from a foreign Origin is refused with 403 in the contract's error shape", async () => {
    const res = await fetch(guarded.url + "/api/v1/ws", { headers: upgradeHeaders("https://evil.example") });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ code: "origin_not_allowed", detail: expect.any(String) });
    // A real socket from there never opens.
    const ws = new WebSocket(wsUrl(guarded.url), { headers: { origin: "https://evil.example" } } as any);
    const outcome = await new Promise<string>((resolve) => {
      ws.addEventListener("open", () => resolve("open"));
      ws.addEventListener("error", () => resolve("error"));
      ws.addEventListener("close", () => resolve("close"));
    });
    expect(outcome).not.toBe("open");
  });

  test("an allowed Origin, or none (not a browser), connects and authenticates", async () => {
    const user = await gapi.newUser("origin");
    for (const headers of [{ origin: "https://app.example" }, {}] as Record<string, string>[]) {
      const s = rawSocket(guarded.url, { headers });
      await s.opened;
      s.send({ token: user.token });
      expect((await s.waitType("ready")).user_id).toBe(user.user.id);
      await barrier(s);
      s.close();
    }
  });
});

describe("slow consumer", () => {
  test("a client that stops reading is dropped (it sees 1006, no close frame); everyone else gets everything", async () => {
    const [sender, healthyUser, slowUser] = [await api.newUser("sender"), await api.newUser("healthy"), await api.newUser("slow")];
    const group = (await api.group(sender.token, "firehose", [healthyUser.user.id, slowUser.user.id])).body.id;
    const slow = new PausableSocket(server.port, { authorization: `Bearer ${slowUser.token}` });
    await slow.until(() => slow.texts.some((t) => t.includes('"ready"')));
    slow.pause();
    const healthy = await connect(server.url, healthyUser.token);
    const out = await connect(server.url, sender.token);
    const body = "🐢".repeat(3990); // ~16 KB of UTF-8 per message: the 4 MiB limit is reached quickly
    let sent = 0;
    while (server.hub.socketCount(slowUser.user.id) > 0) {
      if (sent >= 5000) throw new Error("the slow consumer was never closed");
      for (let i = 0; i < 25; i++, sent++) out.send({ type: "message", conversation_id: group, content: `${sent} ${body}`, client_msg_id: String(sent) });
      await out.waitFor((f) => f.type === "message_ack" && f.client_msg_id === String(sent - 1), 20_000);
      out.frames.length = 0;
    }
    // Let the client read what was queued before the drop: there is no close frame at the end.
    slow.resume();
    await slow.until(() => slow.ended);
    expect(slow.closeCode).toBeNull();
    slow.destroy();

    // The healthy receiver got every message, in order, and the server is fine.
    await healthy.waitFor((f) => f.type === "new_message" && f.message.seq === sent, 20_000);
    const seqs = newMessages(healthy).map((f) => f.message.seq);
    expect(seqs).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
    healthy.frames.length = 0;
    expect((await api.get("/health")).status).toBe(200);
    await barrier(healthy, out);
    // The dropped user reconnects and catches up with sync.
    const back = await connect(server.url, slowUser.token);
    const got = new Set<number>();
    for (let since = 0; ; ) {
      const from = back.frames.length;
      back.send({ type: "sync", since: { [group]: since } });
      const done = await back.waitFor((f) => f.type === "sync_done", 20_000, from);
      for (const f of back.frames.slice(from)) if (f.type === "new_message") got.add(f.message.seq);
      back.frames.length = 0;
      while (got.has(since + 1)) since++;
      if (!done.has_more) break;
    }
    expect(got.size).toBe(sent);
    closeAll(healthy, out, back);
  }, 60_000);
});

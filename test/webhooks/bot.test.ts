// An echo bot built from the README's Webhooks section alone: a hook on message.created, the
// signature checked with the README's snippet on the raw body, and the answer sent over REST.
// (A regular account stands in for a bot account here; the bot's token comes from its login.)
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHmac, timingSafeEqual } from "node:crypto";
import { API, client, restHistory, type Api } from "../support/api";
import { startTestServer, type TestServer } from "../support/server";
import { addWebhook } from "../../src/modules/webhooks/service";
import { sqliteStorage } from "../../src/db/stores";

// The README's verification snippet, verbatim.
function verify(secret: string, header: string | null, rawBody: string): boolean {
  const parts = Object.fromEntries((header ?? "").split(",").map((p) => p.split("=", 2)));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1 || Math.abs(Date.now() / 1000 - t) > 300) return false;
  const expected = Buffer.from(createHmac("sha256", secret).update(`${t}.${rawBody}`).digest("hex"));
  const given = Buffer.from(parts.v1);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ webhookAllowPrivate: true, rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

test("a bot answers every message it did not send itself: webhook in, REST out", async () => {
  const bot = await api.newUser("echobot");
  const human = await api.newUser("human");
  let secret = "";
  let refused = 0;
  const receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const raw = await request.text();
      if (!verify(secret, request.headers.get("chat-signature"), raw)) {
        refused++;
        return new Response("bad signature", { status: 401 });
      }
      const event = JSON.parse(raw);
      if (event.type === "message.created" && event.data.sender_id !== bot.user.id) {
        const reply = await api.send(bot.token, event.data.conversation_id, `echo: ${event.data.content}`, `echo-${event.id}`);
        if (reply.status !== 201 && reply.status !== 200) return new Response("retry", { status: 503 });
      }
      return new Response(null, { status: 204 });
    },
  });
  try {
    secret = (await addWebhook(sqliteStorage(server.db), { url: `http://127.0.0.1:${receiver.port}/bot`, events: "message.created", allowPrivate: true })).secret;
    const dm = await api.dm(human.token, bot.user.id);
    await api.send(human.token, dm.body.id, "hello bot");
    await api.send(human.token, dm.body.id, "still there?");
    const deadline = Date.now() + 20_000;
    let contents: string[] = [];
    while (Date.now() < deadline) {
      contents = (await restHistory(api, human.token, dm.body.id)).map((m: any) => m.content);
      if (contents.length >= 4) break;
      await Bun.sleep(50);
    }
    expect(contents.sort()).toEqual(["echo: hello bot", "echo: still there?", "hello bot", "still there?"]);
    expect(refused).toBe(0);
    // A forged delivery is refused by the same check.
    const forged = await fetch(`http://127.0.0.1:${receiver.port}/bot`, {
      method: "POST",
      headers: { "chat-signature": `t=${Math.floor(Date.now() / 1000)},v1=${"0".repeat(64)}` },
      body: JSON.stringify({ id: "1", type: "message.created", created_at: new Date().toISOString(), data: { sender_id: human.user.id, conversation_id: dm.body.id, content: "forged" } }),
    });
    expect(forged.status).toBe(401);
    expect((await api.get(`${API}/conversations/${dm.body.id}/messages`, human.token)).body.length).toBe(4);
  } finally {
    receiver.stop(true);
  }
});

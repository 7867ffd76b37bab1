// The SDK's v2 revision tracking, against a scripted server that speaks the v2 frames (`rev` on
// frames, `revs` in sync, `changes` answers): a skipped rev asks for changes from the last applied
// one, each message state is emitted once, and the positions come out right. Against the real
// (v2) server: v2-events.test.ts.
import { afterAll, expect, test } from "bun:test";
import type { ServerWebSocket } from "bun";
import { createChatClient, type Message } from "../../client";

const C = "01900000-0000-7000-8000-00000000000c";
const USER = "01900000-0000-7000-8000-0000000000a1";

// Only the fields the SDK reads matter here; the v2 server sends more.
const message = (seq: number, rev: number, content = `m${seq}`) => ({
  id: `01900000-0000-7000-8000-${String(seq).padStart(12, "0")}`,
  conversation_id: C,
  sender_id: USER,
  recipient_id: null,
  content,
  seq,
  rev,
  client_msg_id: null,
  is_read: false,
  created_at: "2026-01-01T00:00:00.000Z",
  updated_at: "2026-01-01T00:00:00.000Z",
});

const received: Record<string, any>[] = [];
let socket: ServerWebSocket<unknown> | null = null;
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(request, srv) {
    const path = new URL(request.url).pathname;
    if (path === "/api/v1/ws") return srv.upgrade(request) ? undefined : new Response(null, { status: 400 });
    if (path === "/api/v1/conversations") return Response.json([{ id: C, rev: 5, last_message: message(2, 4) }]);
    return new Response(null, { status: 404 });
  },
  websocket: {
    open(ws) {
      socket = ws;
    },
    message(ws, raw) {
      const frame = JSON.parse(String(raw));
      received.push(frame);
      if (frame.token) ws.send(JSON.stringify({ type: "ready", user_id: USER, timestamp: "2026-01-01T00:00:00.000Z" }));
      if (frame.type === "sync" && received.filter((f) => f.type === "sync").length === 2) {
        // The answer to the catch-up asked after the skipped rev 7: the edit it missed, and m3 again.
        ws.send(JSON.stringify({ type: "changes", conversation_id: C, rev: 8, messages: [message(1, 7, "m1 edited twice"), message(3, 8)] }));
      }
      if (frame.type === "sync") ws.send(JSON.stringify({ type: "sync_done", has_more: false }));
    },
  },
});
afterAll(() => server.stop(true));

const push = (frame: object) => socket!.send(JSON.stringify(frame));

async function until(condition: () => boolean, what: string) {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: received ${JSON.stringify(received)}`);
    await Bun.sleep(10);
  }
}

test("a skipped rev asks for changes since the last applied one; every state of a message is emitted once", async () => {
  const chat = createChatClient({ baseUrl: `http://127.0.0.1:${server.port}`, token: "t" });
  const live = chat.socket();
  const news: Message[] = [];
  const updates: Message[] = [];
  let synced = 0;
  live.on("new_message", ({ message }) => void news.push(message));
  live.on("message_updated", ({ message }) => void updates.push(message));
  live.on("synced", () => void synced++);
  await until(() => synced === 1, "the first sync");
  // Positions from the listing: seq 2, rev 5; the sync asks from there with both.
  expect(received.find((f) => f.type === "sync")).toEqual({ type: "sync", since: { [C]: 2 }, revs: { [C]: 5 } });

  push({ type: "message_updated", message: message(1, 6, "m1 edited"), rev: 6 });
  push({ type: "message_updated", message: message(1, 6, "m1 edited"), rev: 6 }); // a repeat: dropped
  // rev 7 never arrives live: the next frame jumps to 8.
  push({ type: "new_message", message: message(3, 8), rev: 8, timestamp: "2026-01-01T00:00:00.000Z" });
  await until(() => synced === 2, "the catch-up after the gap");

  expect(received.filter((f) => f.type === "sync")[1]).toEqual({ type: "sync", since: { [C]: 3 }, revs: { [C]: 6 } });
  expect(news.map((m) => m.seq)).toEqual([3]);
  expect(updates.map((m) => [m.seq, m.rev, m.content])).toEqual([
    [1, 6, "m1 edited"],
    [1, 7, "m1 edited twice"],
  ]);
  expect(live.positions()).toEqual({ [C]: 3 });
  expect(live.revisions()).toEqual({ [C]: 8 });
  live.close();
});

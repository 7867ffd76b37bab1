// The ceiling: a minimal Bun.serve pub/sub server speaking the same frames as the real one
// (ready, message -> message_ack + new_message, ping -> pong) with no auth (the token is the user id),
// no validation and no persistence. Setup routes (signup, login, conversations) answer from memory so
// the same load generator drives both servers; GET messages returns a fixture the bench hands in.
//   bun bench/ceiling-server.ts --port 9000
import type { ServerWebSocket } from "bun";

const port = Number(process.argv[process.argv.indexOf("--port") + 1] || 9000);

interface Data {
  userId: string | null;
}
type Sock = ServerWebSocket<Data>;

const members = new Map<string, string[]>(); // conversation -> user ids
const conversationsOf = new Map<string, Set<string>>(); // user -> conversations
const socketsOf = new Map<string, Set<Sock>>(); // user -> sockets
const seqs = new Map<string, number>();
const usernames = new Map<string, string>();
let fixture = "[]";

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const userOf = (req: Request) => req.headers.get("authorization")?.slice(7) ?? "";

function newMessage(conversationId: string, senderId: string, content: string, clientMsgId: string | null) {
  const seq = (seqs.get(conversationId) ?? 0) + 1;
  seqs.set(conversationId, seq);
  const at = new Date().toISOString();
  return {
    id: Bun.randomUUIDv7(),
    conversation_id: conversationId,
    sender_id: senderId,
    recipient_id: null,
    content,
    seq,
    client_msg_id: clientMsgId,
    is_read: false,
    created_at: at,
    updated_at: at,
  };
}

const server = Bun.serve<Data>({
  port,
  hostname: "127.0.0.1",
  development: false,
  async fetch(req, srv) {
    const url = new URL(req.url);
    const path = url.pathname;
    if (path === "/api/v1/ws") {
      if (srv.upgrade(req, { data: { userId: null } })) return undefined;
      return json({ detail: "Expected a WebSocket upgrade", code: "upgrade_required" }, 400);
    }
    if (path === "/health") return json({ status: "ok", version: "ceiling" });
    if (req.method === "POST" && path === "/api/v1/auth/signup") {
      const body = (await req.json()) as { username: string; email: string };
      const id = Bun.randomUUIDv7();
      usernames.set(body.username, id);
      return json({ id, username: body.username, email: body.email }, 201);
    }
    if (req.method === "POST" && path === "/api/v1/auth/login") {
      const body = (await req.json()) as { username: string };
      return json({ access_token: usernames.get(body.username), token_type: "bearer", expires_in: 86400 });
    }
    if (req.method === "POST" && path === "/api/v1/conversations") {
      const body = (await req.json()) as { participant_ids: string[]; name?: string };
      const id = Bun.randomUUIDv7();
      const ids = [userOf(req), ...body.participant_ids];
      members.set(id, ids);
      for (const u of ids) {
        let set = conversationsOf.get(u);
        if (!set) conversationsOf.set(u, (set = new Set()));
        set.add(id);
        for (const ws of socketsOf.get(u) ?? []) ws.subscribe(`conversation:${id}`);
      }
      return json({ id, name: body.name ?? null, is_group: true }, 201);
    }
    if (req.method === "POST" && path === "/__bench/fixture") {
      fixture = await req.text();
      return json({ ok: true });
    }
    const m = /^\/api\/v1\/conversations\/([^/]+)\/messages$/.exec(path);
    if (m) {
      if (req.method === "GET") return new Response(fixture, { headers: { "content-type": "application/json" } });
      const body = (await req.json()) as { content: string; client_msg_id?: string };
      const message = newMessage(m[1]!, userOf(req), body.content, body.client_msg_id ?? null);
      srv.publish(`conversation:${m[1]}`, JSON.stringify({ type: "new_message", message, timestamp: message.created_at }));
      return json(message, 201);
    }
    return json({ detail: "Not found", code: "not_found" }, 404);
  },
  websocket: {
    // The same socket settings as the real server.
    maxPayloadLength: 64 * 1024,
    idleTimeout: 60,
    sendPings: true,
    backpressureLimit: 4 * 1024 * 1024,
    closeOnBackpressureLimit: true,
    perMessageDeflate: false,
    message(ws: Sock, raw) {
      const frame = JSON.parse(typeof raw === "string" ? raw : raw.toString());
      if (!ws.data.userId) {
        const userId = String(frame.token);
        ws.data.userId = userId;
        ws.send(JSON.stringify({ type: "ready", user_id: userId, timestamp: new Date().toISOString() }));
        let set = socketsOf.get(userId);
        if (!set) socketsOf.set(userId, (set = new Set()));
        set.add(ws);
        ws.subscribe(`user:${userId}`);
        for (const c of conversationsOf.get(userId) ?? []) ws.subscribe(`conversation:${c}`);
        return;
      }
      if (frame.type === "message") {
        const message = newMessage(frame.conversation_id, ws.data.userId, frame.content, frame.client_msg_id ?? null);
        ws.send(JSON.stringify({ type: "message_ack", client_msg_id: message.client_msg_id, message }));
        server.publish(`conversation:${frame.conversation_id}`, JSON.stringify({ type: "new_message", message, timestamp: message.created_at }));
      } else if (frame.type === "ping") {
        ws.send(JSON.stringify({ type: "pong", timestamp: new Date().toISOString() }));
      }
    },
    close(ws: Sock) {
      if (ws.data.userId) socketsOf.get(ws.data.userId)?.delete(ws);
    },
  },
});

process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});

// The socket endpoint /api/v1/ws: authentication, frame handling, presence, typing and sync.
// It uses the services (send, mark read, membership); the services never know about sockets.
import type { Server, WebSocketHandler } from "bun";
import type { AppDeps } from "../app";
import { ApiError, errorResponse } from "../errors";
import { iso, now } from "../lib/time";
import { bearerToken, userForToken } from "../modules/auth/service";
import { memberIds } from "../modules/conversations/service";
import { prepareSend } from "../modules/messages/send";
import { fetchMessages, isMember, isReadFor, markRead, readState, toMessageView } from "../modules/messages/service";
import { touchLastSeen } from "../modules/users/service";
import type { BunHub, ChatSocket, SocketData } from "./bun-hub";
import { userTopic } from "./hub";
import {
  AUTH_TIMEOUT_MS,
  BACKPRESSURE_LIMIT,
  CLOSE,
  clientMsgId,
  field,
  frameError,
  MAX_FRAME_BYTES,
  SYNC_MAX_BUFFERED_BYTES,
  SYNC_MAX_PER_ROUND,
  SYNC_PAGE,
  syncPositions,
  TYPING_THROTTLE_MS,
} from "./protocol";

export const WS_PATH = "/api/v1/ws";
/** Sockets still waiting for their token, across all clients. */
const MAX_UNAUTHENTICATED = 2_000;

interface SocketState extends SocketData {
  headerToken: string | null;
  authTimer: ReturnType<typeof setTimeout> | null;
  /** Frames that arrived while the token was being checked, handled in order after ready. */
  backlog: string[] | null;
  windowStart: number;
  framesInWindow: number;
  closed: boolean;
}

export interface SocketEndpoint {
  upgrade(request: Request, server: Server<SocketData>): Response | undefined;
  websocket: WebSocketHandler<SocketData>;
  stats: { opened: number; unauthenticated: number };
}

export function createSocketEndpoint(deps: AppDeps & { hub: BunHub }): SocketEndpoint {
  const { db, hub, config, log } = deps;
  let nextId = 1;
  const stats = { opened: 0, unauthenticated: 0 };
  const allowed = new Set(config.allowedOrigins);

  const send = (ws: ChatSocket, event: object) => ws.send(JSON.stringify(event));
  const sendError = (ws: ChatSocket, error: unknown, ref?: string) => {
    const e =
      error instanceof ApiError
        ? { code: error.code, detail: error.detail }
        : { code: "internal_error", detail: "Internal server error" };
    if (!(error instanceof ApiError)) log.error("socket frame failed", { error: String(error) });
    send(ws, { type: "error", ...e, ...(ref !== undefined ? { ref } : {}) });
  };

  const contactsOf = (userId: string) =>
    db.$client
      .query<{ user_id: string }, [string, string]>(
        `SELECT DISTINCT o.user_id FROM members me JOIN members o ON o.conversation_id = me.conversation_id
         WHERE me.user_id = ? AND o.user_id != ?`,
      )
      .all(userId, userId)
      .map((r) => userTopic(r.user_id));

  const announcePresence = (userId: string, isOnline: boolean) => {
    const payload = JSON.stringify({ type: "presence", user_id: userId, is_online: isOnline, timestamp: iso(now()) });
    hub.publishEncoded(contactsOf(userId), payload);
  };

  async function authenticate(ws: ChatSocket, token: string | null) {
    const state = ws.data as SocketState;
    const user = await userForToken(db, deps.tokens, token).catch(() => null);
    if (state.closed) return;
    if (!user) return ws.close(CLOSE.unauthorized, "invalid token");
    if (hub.socketCount(user.id) >= config.wsMaxSocketsPerUser) return ws.close(CLOSE.tooManySockets, "too many sockets");
    if (state.authTimer) clearTimeout(state.authTimer);
    state.authTimer = null;
    stats.unauthenticated--;
    state.userId = user.id;
    const conversationIds = db.$client
      .query<{ conversation_id: string }, [string]>("SELECT conversation_id FROM members WHERE user_id = ?")
      .all(user.id)
      .map((r) => r.conversation_id);
    // ready first, then subscribe: both synchronous, so no event can slip in before ready.
    send(ws, { type: "ready", user_id: user.id, timestamp: iso(now()) });
    const first = hub.add(ws, user.id, conversationIds);
    if (first) announcePresence(user.id, true);
    const backlog = state.backlog ?? [];
    state.backlog = null;
    for (const frame of backlog) handleFrame(ws, frame);
  }

  function handleFrame(ws: ChatSocket, raw: string) {
    const userId = ws.data.userId!;
    let frame: Record<string, unknown>;
    try {
      const parsed = JSON.parse(raw);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error();
      frame = parsed;
    } catch {
      return sendError(ws, frameError("invalid_json", "Frame must be a JSON object"));
    }
    let ref: string | undefined;
    try {
      ref = typeof frame.client_msg_id === "string" ? frame.client_msg_id : undefined;
      switch (frame.type) {
        case "message":
          return onMessage(ws, userId, frame);
        case "mark_read":
          markRead(db, hub, userId, field(frame, "message_id", "uuid")!);
          return;
        case "typing":
          return onTyping(ws, userId, field(frame, "conversation_id", "uuid")!);
        case "ping":
          return send(ws, { type: "pong", timestamp: iso(now()) });
        case "sync":
          return onSync(ws, userId, syncPositions(frame));
        case undefined:
          throw frameError("validation_error", "type: required");
        default:
          throw frameError("unknown_type", `type: unknown frame type ${JSON.stringify(String(frame.type)).slice(0, 80)}`);
      }
    } catch (error) {
      sendError(ws, error, ref);
    }
  }

  function onMessage(ws: ChatSocket, userId: string, frame: Record<string, unknown>) {
    const id = clientMsgId(frame);
    const request = prepareSend(db, hub, userId, {
      conversationId: field(frame, "conversation_id", "optional-uuid"),
      recipientId: field(frame, "recipient_id", "optional-uuid"),
      content: frame.content,
      clientMsgId: id,
    });
    deps.writer.submit(request, (error, result) => {
      if (error) return sendError(ws, error, id);
      let message = result!.message;
      if (!result!.created) {
        // A repeat returns the original as it is now, as the REST send does: it may have been read since.
        const state = readState(db, message.conversation_id, userId);
        if (state) message = { ...message, is_read: isReadFor(message, userId, state) };
      }
      send(ws, { type: "message_ack", client_msg_id: id ?? null, message });
    });
  }

  function onTyping(_ws: ChatSocket, userId: string, conversationId: string) {
    if (!isMember(db, conversationId, userId)) throw new ApiError(404, "not_found", "Conversation not found");
    const t = now();
    // Throttled per user and conversation, across all of the user's devices.
    const key = `${userId}:${conversationId}`;
    if (t - (typingSeen.get(key) ?? 0) < TYPING_THROTTLE_MS) return;
    typingSeen.set(key, t);
    if (typingSeen.size > 100_000) typingSeen.clear();
    const payload = JSON.stringify({ type: "user_typing", user_id: userId, conversation_id: conversationId, timestamp: iso(t) });
    hub.publishEncoded(
      memberIds(db, conversationId).filter((id) => id !== userId).map(userTopic),
      payload,
    );
  }
  const typingSeen = new Map<string, number>();

  function onSync(ws: ChatSocket, userId: string, positions: [string, number][]) {
    let budget = SYNC_MAX_PER_ROUND;
    let hasMore = false;
    for (const [conversationId, since] of positions) {
      if (budget <= 0) {
        hasMore = true;
        break;
      }
      const state = readState(db, conversationId, userId);
      if (!state) continue; // not a member: ignored, as the contract says
      const limit = Math.min(SYNC_PAGE, budget);
      const rows = fetchMessages(db, conversationId, { limit: limit + 1, after: since });
      if (rows.length > limit) {
        hasMore = true;
        rows.length = limit;
      }
      const timestamp = iso(now());
      for (const m of rows) {
        send(ws, { type: "new_message", message: toMessageView(m, isReadFor(m, userId, state)), timestamp });
        budget--;
        // A whole round written at once can pass Bun's backpressure limit, and Bun then drops the very
        // client that asked to catch up. End the round early instead; the client asks again from its new seqs.
        if (ws.getBufferedAmount() > SYNC_MAX_BUFFERED_BYTES) {
          send(ws, { type: "sync_done", has_more: true });
          return;
        }
      }
    }
    send(ws, { type: "sync_done", has_more: hasMore });
  }

  const websocket: WebSocketHandler<SocketData> = {
    maxPayloadLength: MAX_FRAME_BYTES,
    idleTimeout: 60,
    sendPings: true,
    backpressureLimit: BACKPRESSURE_LIMIT,
    closeOnBackpressureLimit: true,
    perMessageDeflate: false,
    open(ws) {
      stats.opened++;
      stats.unauthenticated++;
      const state = ws.data as SocketState;
      if (state.headerToken) {
        state.backlog = [];
        void authenticate(ws, state.headerToken);
        return;
      }
      state.authTimer = setTimeout(() => ws.close(CLOSE.unauthorized, "authentication timeout"), AUTH_TIMEOUT_MS);
    },
    message(ws, message) {
      const state = ws.data as SocketState;
      const raw = typeof message === "string" ? message : new TextDecoder().decode(message);
      if (config.rateLimit) {
        const t = now();
        if (t - state.windowStart >= 1000) {
          state.windowStart = t;
          state.framesInWindow = 0;
        }
        if (++state.framesInWindow > config.wsMaxFramesPerSecond) return ws.close(CLOSE.flood, "too many frames");
      }
      if (state.userId) {
        handleFrame(ws, raw);
        return;
      }
      if (state.backlog) {
        // Token check in flight: keep order, but do not let an unauthenticated peer queue without bound.
        if (state.backlog.length >= 100) return ws.close(CLOSE.flood, "too many frames before ready");
        state.backlog.push(raw);
        return;
      }
      let token: unknown;
      try {
        const parsed = JSON.parse(raw);
        token = parsed && typeof parsed === "object" ? parsed.token : undefined;
      } catch {}
      if (typeof token !== "string") return ws.close(CLOSE.unauthorized, "first frame must be {token}");
      state.backlog = [];
      void authenticate(ws, token);
    },
    close(ws) {
      const state = ws.data as SocketState;
      state.closed = true;
      if (state.authTimer) clearTimeout(state.authTimer);
      if (!state.userId) {
        stats.unauthenticated--;
        return;
      }
      if (hub.remove(ws, state.userId)) {
        try {
          touchLastSeen(db, state.userId);
        } catch {}
        announcePresence(state.userId, false);
      }
    },
  };

  function upgrade(request: Request, server: Server<SocketData>): Response | undefined {
    const origin = request.headers.get("origin");
    if (allowed.size > 0 && origin !== null && !allowed.has(origin)) {
      return errorResponse(403, "origin_not_allowed", "This Origin may not open sockets");
    }
    if (stats.unauthenticated >= MAX_UNAUTHENTICATED) {
      return errorResponse(503, "busy", "Too many sockets waiting to authenticate", { "Retry-After": "1" });
    }
    const data: SocketState = {
      id: nextId++,
      userId: null,
      headerToken: bearerToken(request.headers.get("authorization")),
      authTimer: null,
      backlog: null,
      windowStart: 0,
      framesInWindow: 0,
      closed: false,
    };
    if (server.upgrade(request, { data })) return undefined;
    return errorResponse(400, "upgrade_required", "Expected a WebSocket upgrade");
  }

  return { upgrade, websocket, stats };
}

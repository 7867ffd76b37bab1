// The socket endpoint /api/v1/ws: admission, authentication, the frame budget, and the lifecycle
// that ties a socket to its session (expiry, revocation) and to presence. Frames are handled in
// frames/ (one file per frame type); the services never know about sockets.
import type { Server, WebSocketHandler } from "bun";
import type { Deps } from "../deps";
import { errorResponse } from "../errors";
import { createFrameThrottle } from "./frame-throttle";
import { iso, now } from "../lib/time";
import { bearerToken, sessionForToken } from "../modules/auth/service";
import { conversationIdsOf } from "../modules/conversations/service";
import { Admission } from "./admission";
import type { BunHub, ChatSocket, SocketData } from "./bun-hub";
import { createFrameHandler } from "./frames";
import { createPresence } from "./presence";
import { AUTH_TIMEOUT_MS, BACKPRESSURE_LIMIT, CLOSE, frameCost, MAX_FRAME_BYTES } from "./protocol";
import { closeAtExpiry, watchSessions } from "./sessions";
import type { SocketState } from "./socket-state";

export const WS_PATH = "/api/v1/ws";
/** Frames sent before ready, while the token is checked: kept in order, but not without bound. */
const MAX_BACKLOG = 100;

export interface SocketEndpoint {
  upgrade(request: Request, server: Server<SocketData>): Response | undefined;
  websocket: WebSocketHandler<SocketData>;
  stats: { opened: number; readonly unauthenticated: number };
}

export function createSocketEndpoint(deps: Deps & { hub: BunHub }): SocketEndpoint {
  const { hub, config, log } = deps;
  let nextId = 1;
  const admission = new Admission(config.wsMaxPendingPerAddress);
  const stats = {
    opened: 0,
    get unauthenticated() {
      return admission.pending;
    },
  };
  const allowed = new Set(config.allowedOrigins);
  const handleFrame = createFrameHandler(deps);
  const presence = createPresence(deps, hub, log, () => deps.storage?.writesWait() ?? null);
  if (deps.storageChanges) watchSessions(deps, deps.storageChanges, hub, log);

  const send = (ws: ChatSocket, event: object) => ws.send(JSON.stringify(event));

  async function authenticate(ws: ChatSocket, token: string | null) {
    const state = ws.data as SocketState;
    const session = await sessionForToken(deps, deps.tokens, token).catch(() => null);
    if (state.closed) return;
    if (!session) return ws.close(CLOSE.unauthorized, "invalid token");
    const { user } = session;
    if (hub.socketCount(user.id) >= config.wsMaxSocketsPerUser) return ws.close(CLOSE.tooManySockets, "too many sockets");
    if (state.authTimer) clearTimeout(state.authTimer);
    state.authTimer = null;
    admission.release(state);
    state.userId = user.id;
    state.tokenVersion = session.tokenVersion;
    state.apiTokenId = session.apiTokenId;
    if (session.expiresAtMs !== null) closeAtExpiry(ws, session.expiresAtMs);
    if (state.closed) return;
    const conversationIds = await conversationIdsOf(deps, user.id);
    if (state.closed) return;
    // ready first, then subscribe: both synchronous, so no event can slip in before ready.
    send(ws, { type: "ready", user_id: user.id, timestamp: iso(now()) });
    if (hub.add(ws, user.id, conversationIds)) presence.connected(user.id);
    const backlog = state.backlog ?? [];
    state.backlog = null;
    for (const frame of backlog) handleFrame(ws, frame);
  }

  /** One frame within the socket's budget: the token first, then frames in order. */
  function receive(ws: ChatSocket, raw: string) {
    const state = ws.data as SocketState;
    if (state.userId) {
      handleFrame(ws, raw);
      return;
    }
    if (state.backlog) {
      // Token check in flight: keep order, but do not let an unauthenticated peer queue without bound.
      if (state.backlog.length >= MAX_BACKLOG) return ws.close(CLOSE.flood, "too many frames before ready");
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
      const state = ws.data as SocketState;
      admission.hold(state, ws);
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
      if (!state.frames) return receive(ws, raw);
      if (!state.frames.offer(raw, frameCost(raw.length), (frame) => state.closed || receive(ws, frame))) {
        ws.close(CLOSE.flood, "too many frames");
      }
    },
    close(ws) {
      const state = ws.data as SocketState;
      state.closed = true;
      state.frames?.stop();
      if (state.authTimer) clearTimeout(state.authTimer);
      if (state.expiryTimer) clearTimeout(state.expiryTimer);
      if (state.syncTimer) clearTimeout(state.syncTimer);
      admission.release(state);
      if (state.userId && hub.remove(ws, state.userId)) presence.disconnected(state.userId);
    },
  };

  function upgrade(request: Request, server: Server<SocketData>): Response | undefined {
    const origin = request.headers.get("origin");
    if (allowed.size > 0 && origin !== null && !allowed.has(origin)) {
      return errorResponse(403, "origin_not_allowed", "This Origin may not open sockets");
    }
    const address = deps.clientAddress(request);
    const headerToken = bearerToken(request.headers.get("authorization"));
    const refused = admission.refuse(address, headerToken);
    if (refused) return refused;
    const data: SocketState = {
      id: nextId++,
      userId: null,
      address,
      pending: false,
      pendingSince: 0,
      headerToken,
      authTimer: null,
      backlog: null,
      // A bucket, not a window: a client whose frames queued up while either side was stopped may
      // deliver them in one burst of up to twice the per-second limit; beyond it they wait their turn.
      frames: config.rateLimit ? createFrameThrottle(config.wsMaxFramesPerSecond, 2 * config.wsMaxFramesPerSecond) : null,
      tokenVersion: null,
      apiTokenId: null,
      expiryTimer: null,
      pendingSync: null,
      syncTimer: null,
      closed: false,
    };
    if (server.upgrade(request, { data })) return undefined;
    return errorResponse(400, "upgrade_required", "Expected a WebSocket upgrade");
  }

  return { upgrade, websocket, stats };
}

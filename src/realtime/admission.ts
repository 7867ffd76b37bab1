// Who may open a socket that has not authenticated yet. A socket without a token costs memory for
// up to AUTH_TIMEOUT_MS; one client opening thousands of them used to fill the server-wide cap and
// lock every user out (503 even with a valid Bearer upgrade). Now:
// - an upgrade carrying a Bearer header is let through whatever the counts (it is authenticated,
//   or closed with 4401, at once);
// - when a cap is reached, the oldest socket that has waited EVICT_AFTER_MS without sending its
//   token is closed (4401) to make room: a real client sends its token within milliseconds, so the
//   idle sockets of an attacker go first and a reconnect storm of real clients still gets in;
// - only when every waiting socket is younger than that (a storm larger than the cap) is the new
//   one refused: 429 per address, 503 server-wide, with Retry-After.
import { errorResponse } from "../errors";
import { isApiToken } from "../modules/auth/api-tokens";
import type { ChatSocket } from "./bun-hub";
import { CLOSE } from "./protocol";
import type { SocketState } from "./socket-state";

/** Sockets waiting for their first-frame token across all clients (per address: --ws-max-pending-per-address). */
export const MAX_PENDING = 2_000;
/** A waiting socket this old may be closed to admit a new one. */
export const EVICT_AFTER_MS = 2_000;
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/;

export class Admission {
  /** Waiting sockets, oldest first (Map and Set keep insertion order). */
  private readonly waiting = new Map<SocketState, ChatSocket>();
  private readonly perAddress = new Map<string, Set<SocketState>>();

  /** maxPerAddress: the default 500 lets a NAT's reconnect storm in. */
  constructor(private readonly maxPerAddress: number) {}

  /** Sockets counted as pending right now (read by /metrics as sockets waiting to authenticate). */
  get pending() {
    return this.waiting.size;
  }

  /** A refusal response, or null when the upgrade may proceed (after evicting an old idle socket if needed). */
  refuse(address: string, headerToken: string | null): Response | null {
    if (headerToken !== null && (JWT_SHAPE.test(headerToken) || isApiToken(headerToken))) return null;
    const mine = this.perAddress.get(address);
    if (mine && mine.size >= this.maxPerAddress && !this.evictOldest(mine.keys())) {
      return errorResponse(429, "too_many_pending_sockets", "Too many sockets from this address waiting to authenticate", {
        "Retry-After": "1",
      });
    }
    if (this.waiting.size >= MAX_PENDING && !this.evictOldest(this.waiting.keys())) {
      return errorResponse(503, "busy", "Too many sockets waiting to authenticate", { "Retry-After": "1" });
    }
    return null;
  }

  /** Counts an opened socket until release(). */
  hold(state: SocketState, ws: ChatSocket) {
    if (state.pending) return;
    state.pending = true;
    state.pendingSince = performance.now();
    this.waiting.set(state, ws);
    let mine = this.perAddress.get(state.address);
    if (!mine) this.perAddress.set(state.address, (mine = new Set()));
    mine.add(state);
  }

  /** Authenticated or closed: no longer pending. Safe to call twice. */
  release(state: SocketState) {
    if (!state.pending) return;
    state.pending = false;
    this.waiting.delete(state);
    const mine = this.perAddress.get(state.address);
    mine?.delete(state);
    if (mine?.size === 0) this.perAddress.delete(state.address);
  }

  /** Closes the oldest of these waiting sockets if it has waited long enough; true when one made room. */
  private evictOldest(oldestFirst: Iterable<SocketState>): boolean {
    for (const state of oldestFirst) {
      if (performance.now() - state.pendingSince < EVICT_AFTER_MS) return false;
      const ws = this.waiting.get(state);
      this.release(state); // counted free now: the close event comes later
      ws?.close(CLOSE.unauthorized, "authentication timeout");
      return true;
    }
    return false;
  }
}

// Who may open a socket that has not authenticated yet. A socket without a token costs memory for
// up to AUTH_TIMEOUT_MS; one client opening thousands of them used to fill the server-wide cap and
// lock every user out (503 even with a valid Bearer upgrade). Now each address may hold only a few
// such sockets, and an upgrade carrying a Bearer header is let through whatever the counts: it is
// authenticated (or closed with 4401) at once.
import { errorResponse } from "../errors";
import type { SocketState } from "./socket-state";

/** Sockets waiting for their first-frame token, per client address. */
export const MAX_PENDING_PER_ADDRESS = 50;
/** The same, across all clients. */
export const MAX_PENDING = 2_000;
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/;

export class Admission {
  private readonly perAddress = new Map<string, number>();
  /** Sockets counted as pending right now (read by /metrics as sockets waiting to authenticate). */
  pending = 0;

  /** A refusal response, or null when the upgrade may proceed. */
  refuse(address: string, headerToken: string | null): Response | null {
    if (headerToken !== null && JWT_SHAPE.test(headerToken)) return null;
    if ((this.perAddress.get(address) ?? 0) >= MAX_PENDING_PER_ADDRESS) {
      return errorResponse(429, "too_many_pending_sockets", "Too many sockets from this address waiting to authenticate", {
        "Retry-After": "1",
      });
    }
    if (this.pending >= MAX_PENDING) {
      return errorResponse(503, "busy", "Too many sockets waiting to authenticate", { "Retry-After": "1" });
    }
    return null;
  }

  /** Counts an opened socket until release(). */
  hold(state: SocketState) {
    if (state.pending) return;
    state.pending = true;
    this.pending++;
    this.perAddress.set(state.address, (this.perAddress.get(state.address) ?? 0) + 1);
  }

  /** Authenticated or closed: no longer pending. Safe to call twice. */
  release(state: SocketState) {
    if (!state.pending) return;
    state.pending = false;
    this.pending--;
    const n = (this.perAddress.get(state.address) ?? 1) - 1;
    if (n > 0) this.perAddress.set(state.address, n);
    else this.perAddress.delete(state.address);
  }
}

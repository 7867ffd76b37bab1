// What the endpoint keeps per socket (in ws.data: Elysia and Bun give a new wrapper per event).
import type { FrameThrottle } from "./frame-throttle";
import type { SocketData } from "./bun-hub";
import type { SyncRequest } from "./protocol";

export interface SocketState extends SocketData {
  /** The peer address, for the per-address limit on sockets still waiting for a token. */
  address: string;
  /** Counted against `address` in the admission limits until authenticated or closed. */
  pending: boolean;
  /** When it started waiting (performance.now()): the oldest idle one may be evicted for a newcomer. */
  pendingSince: number;
  headerToken: string | null;
  authTimer: ReturnType<typeof setTimeout> | null;
  /** Frames that arrived while the token was being checked, handled in order after ready. */
  backlog: string[] | null;
  /** Frame budget: frames over it wait their turn (null when rate limits are off). */
  frames: FrameThrottle | null;
  /** The token version the socket authenticated with: a bump (password change, disable) ends it. Null for an API token. */
  tokenVersion: number | null;
  /** The API token it authenticated with (null for a login token): revoking that token closes it. */
  apiTokenId: string | null;
  /** Closes the socket when its token expires. */
  expiryTimer: ReturnType<typeof setTimeout> | null;
  /** A sync waiting for its user's sync budget to refill (the latest positions asked for). */
  pendingSync: SyncRequest | null;
  syncTimer: ReturnType<typeof setTimeout> | null;
  closed: boolean;
}

// Client frames of the socket protocol and their validation; every problem is named for the error frame.
import { ApiError } from "../errors";

export const CLOSE = {
  /** No valid token in time, or a first frame that is not {token}. */
  unauthorized: 4401,
  /** More open sockets than one user may hold. */
  tooManySockets: 4429,
  /** Frame flood (policy violation). */
  flood: 1008,
  /** Frame over the size limit (Bun closes with this itself). */
  tooBig: 1009,
  /**
   * The client did not read fast enough (over BACKPRESSURE_LIMIT queued). Never sent: Bun drops the TCP
   * connection without a close frame (the client is not reading one anyway), so clients observe 1006.
   * They reconnect and catch up with sync.
   */
  slowConsumer: 1006,
  /** Server going away (shutdown). */
  goingAway: 1001,
} as const;

export const MAX_FRAME_BYTES = 64 * 1024;
/**
 * Frames are charged by size against the per-second frame budget: one frame, plus one more per
 * FRAME_COST_BYTES. Parsing and validating a 60 KB frame (a sync naming 1,500 conversations) costs
 * the server a hundred small frames' worth, so a socket may send only a few of them a second.
 */
export const FRAME_COST_BYTES = 8 * 1024;
export const frameCost = (length: number) => 1 + Math.floor(length / FRAME_COST_BYTES);
/** Bytes queued for one socket before Bun closes it as a slow consumer (closeOnBackpressureLimit). */
export const BACKPRESSURE_LIMIT = 4 * 1024 * 1024;
export const AUTH_TIMEOUT_MS = 10_000;
export const SYNC_PAGE = 500;
/**
 * What one sync frame may cost: messages sent, and conversations read from the database (only
 * conversations with news are read; ids the user is not in cost a set lookup). The rest is has_more.
 */
export const SYNC_MAX_PER_ROUND = 1_000;
export const SYNC_MAX_CONVERSATIONS_PER_ROUND = 50;
/** A sync round stops once this much is queued for the socket: well under BACKPRESSURE_LIMIT. */
export const SYNC_MAX_BUFFERED_BYTES = 1024 * 1024;
/**
 * Bytes of sync output per user and second, across all of the user's sockets, with a burst of twice
 * that. A round that finds the budget spent waits for it instead of answering at once, so a client
 * catching up is slowed down, never refused, and 20 sockets asking in a loop cannot keep the event
 * loop rendering history.
 */
export const SYNC_BYTES_PER_SECOND = 2 * 1024 * 1024;
export const TYPING_THROTTLE_MS = 1_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const frameError = (code: string, detail: string) => new ApiError(400, code, detail);

export function field(frame: Record<string, unknown>, name: string, kind: "uuid" | "string" | "optional-uuid" | "optional-string") {
  const value = frame[name];
  const optional = kind.startsWith("optional-");
  if (value === undefined || value === null) {
    if (optional) return undefined;
    throw frameError("validation_error", `${name}: required`);
  }
  if (typeof value !== "string") throw frameError("validation_error", `${name}: must be a string`);
  if (kind.endsWith("uuid")) {
    if (!UUID.test(value)) throw frameError("validation_error", `${name}: must be a UUID`);
    // UUIDs are case-insensitive (REST takes upper-case ones too); ours are stored lower-case.
    return value.toLowerCase();
  }
  return value;
}

/** A required non-negative integer (a seq). */
export function seqField(frame: Record<string, unknown>, name: string): number {
  const value = frame[name];
  if (value === undefined || value === null) throw frameError("validation_error", `${name}: required`);
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw frameError("validation_error", `${name}: must be a non-negative integer`);
  }
  return value;
}

export function clientMsgId(frame: Record<string, unknown>): string | undefined {
  const value = frame.client_msg_id;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || value.length === 0 || value.length > 128) {
    throw frameError("validation_error", "client_msg_id: must be a string of 1-128 characters");
  }
  return value;
}

/** A sync frame: v1 `since` (conversation id → last seq held) and v2 `revs` (→ last rev applied). */
export interface SyncRequest {
  since: [string, number][];
  revs: [string, number][];
}

function positionsOf(frame: Record<string, unknown>, key: "since" | "revs", what: string): [string, number][] {
  const value = frame[key] ?? {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw frameError("validation_error", `${key}: must be an object of conversation_id to ${what}`);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 10_000) throw frameError("validation_error", `${key}: too many conversations`);
  return entries.map(([id, n]) => {
    if (!UUID.test(id)) throw frameError("validation_error", `${key}.${id}: key must be a conversation UUID`);
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
      throw frameError("validation_error", `${key}.${id}: must be a non-negative integer ${what}`);
    }
    return [id.toLowerCase(), n];
  });
}

/** `since` of a sync frame: conversation id → last seq the client holds. */
export const syncPositions = (frame: Record<string, unknown>) => positionsOf(frame, "since", "seq");
/** `revs` of a sync frame (v2): conversation id → last rev the client applied. */
export const syncRevs = (frame: Record<string, unknown>) => positionsOf(frame, "revs", "rev");

// Live sessions end when access ends. In this process a password change or a disable calls
// Hub.endSessions directly. Changes committed by another process (the CLI's reset-password,
// disable and token revoke, an operator's sqlite3) move the storage's version (SQLite's
// data_version, Deps.storageChanges): then the users with open sockets and their sockets' API
// tokens are re-read in two queries and the sockets whose token no longer passes are closed. A
// socket never outlives its token's expiry either.
import type { Logger } from "../lib/logger";
import { liveApiTokenIds } from "../modules/auth/api-tokens";
import { sessionValid } from "../modules/auth/service";
import { sessionAccess } from "../modules/users/service";
import type { BunHub, ChatSocket } from "./bun-hub";
import { CLOSE } from "./protocol";
import type { SocketState } from "./socket-state";
import type { Storage } from "../ports/stores";
import type { StorageChanges } from "../ports/storage-probe";

/** How often another process's commits are looked for: revocations from outside land within this. */
export const SESSION_CHECK_MS = 1_000;
/** setTimeout's longest delay; tokens may live a year, so long expiries re-arm. */
const MAX_TIMER_MS = 2 **31 - 1;

export function watchSessions(storage: Storage, changes: StorageChanges, hub: BunHub, log: Logger, intervalMs = SESSION_CHECK_MS) {
  let seen = changes.version();
  let checking = false;
  const timer = setInterval(async () => {
    if (checking) return;
    checking = true;
    try {
      const version = changes.version();
      if (version === seen) return;
      seen = version;
      const ids = [...hub.connectedUsers()];
      if (ids.length === 0) return;
      const rows = new Map((await sessionAccess(storage, ids)).map((r) => [r.id, r]));
      // Sockets opened with an API token: a revoked or expired token ends exactly those.
      const tokenOwners = new Map<string, string>();
      for (const id of ids) for (const ws of hub.socketsOf(id)) if (ws.data.apiTokenId) tokenOwners.set(ws.data.apiTokenId, id);
      const live = await liveApiTokenIds(storage, [...tokenOwners.keys()]);
      for (const [tokenId, userId] of tokenOwners) if (!live.has(tokenId)) hub.endSessions(userId, "token revoked", tokenId);
      for (const id of ids) {
        const row = rows.get(id);
        for (const ws of [...hub.socketsOf(id)]) {
          const { tokenVersion, apiTokenId } = ws.data as SocketState;
          if (apiTokenId && !live.has(apiTokenId)) continue; // closed just above
          // An API token is not tied to the token version (a password reset leaves bots running); a disable ends it.
          const valid = tokenVersion === null ? !!row && row.disabledAt === null : sessionValid(row, tokenVersion);
          if (!valid) ws.close(CLOSE.unauthorized, "session revoked");
        }
      }
    } catch (error) {
      // The server stopped and closed the database: so does the watch.
      if (/closed/i.test(String(error))) return clearInterval(timer);
      log.warn("session check failed", { error: String(error) });
    } finally {
      checking = false;
    }
  }, intervalMs);
  timer.unref();
}

/** Closes the socket with 4401 at `expiresAtMs` (wall clock, like the token's exp). */
export function closeAtExpiry(ws: ChatSocket, expiresAtMs: number) {
  const state = ws.data as SocketState;
  const left = expiresAtMs - Date.now();
  if (left <= 0) {
    state.expiryTimer = null;
    return ws.close(CLOSE.unauthorized, "token expired");
  }
  state.expiryTimer = setTimeout(() => closeAtExpiry(ws, expiresAtMs), Math.min(left, MAX_TIMER_MS));
}

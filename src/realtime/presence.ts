// Presence with a grace period: going offline is announced only after PRESENCE_OFFLINE_DELAY_MS
// without any socket, so a reconnect (a flaky network, a page reload) announces nothing, and
// online is announced only to contacts that were told the user went offline. Each announcement
// goes to every contact (up to thousands of topics), which is why the blips are worth skipping.
import type { Logger } from "../lib/logger";
import { iso, now } from "../lib/time";
import { blockersOf } from "../modules/blocks/service";
import { contactIdsOf } from "../modules/conversations/service";
import { touchLastSeen } from "../modules/users/service";
import type { BunHub } from "./bun-hub";
import { userTopic } from "../ports/bus";
import { andThenAll, type Storage } from "../ports/stores";

export const PRESENCE_OFFLINE_DELAY_MS = 3_000;

/**
 * What a cross-instance hub (redis-bus.ts) adds: contacts hear "online" from the cluster's first
 * socket of the user and "offline" after its last, whichever instances held them.
 */
export interface ClusterPresenceHooks {
  onlineElsewhere?(userId: string): boolean;
  wentOffline?(userId: string): void;
}

export interface Presence {
  /** The user's first socket is ready. */
  connected(userId: string): void;
  /** The user's last socket closed. */
  disconnected(userId: string): void;
}

export function createPresence(
  storage: Storage,
  hub: BunHub & ClusterPresenceHooks,
  log: Logger,
  /** StorageHealth.writesWait: last_seen is written after a stalled disk answers again, not into it. */
  writesWait: () => Promise<void> | null = () => null,
  delayMs = PRESENCE_OFFLINE_DELAY_MS,
): Presence {
  const offlineTimers = new Map<string, ReturnType<typeof setTimeout>>();

  const announce = async (userId: string, isOnline: boolean) => {
    // Also runs from a timer, possibly after the server stopped and closed the database.
    try {
      const payload = JSON.stringify({ type: "presence", user_id: userId, is_online: isOnline, timestamp: iso(now()) });
      // Contacts who blocked the user are not told whether they come and go.
      const [blockers, contacts] = await andThenAll<[ReadonlySet<string>, string[]]>([blockersOf(storage, userId), contactIdsOf(storage, userId)]);
      hub.publishEncoded((blockers.size === 0 ? contacts : contacts.filter((id) => !blockers.has(id))).map(userTopic), payload);
    } catch (error) {
      log.warn("presence announcement failed", { error: String(error) });
    }
  };

  return {
    connected(userId) {
      const pending = offlineTimers.get(userId);
      if (pending) {
        // Back within the grace period: contacts were never told it left.
        clearTimeout(pending);
        offlineTimers.delete(userId);
        hub.lingering.delete(userId);
        return;
      }
      if (!hub.onlineElsewhere?.(userId)) void announce(userId, true);
    },
    disconnected(userId) {
      // Best effort (a closed or failing database): last_seen is a hint.
      const touch = () => {
        try {
          void Promise.resolve(touchLastSeen(storage, userId)).catch(() => {});
        } catch {}
      };
      const stalled = writesWait();
      if (stalled) void stalled.then(touch);
      else touch();
      hub.lingering.add(userId);
      const timer = setTimeout(() => {
        offlineTimers.delete(userId);
        hub.lingering.delete(userId);
        hub.wentOffline?.(userId);
        if (!hub.onlineElsewhere?.(userId)) void announce(userId, false);
      }, delayMs);
      timer.unref();
      offlineTimers.set(userId, timer);
    },
  };
}

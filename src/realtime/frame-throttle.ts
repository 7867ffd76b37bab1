// A socket's frame budget. Frames over the rate wait their turn instead of closing the socket: a
// client that keeps one or a few frames in flight (each send waiting for its ack) is slowed to the
// rate, never cut off. Only a client that keeps sending while its frames wait, more than the
// bucket holds, is a flood (the caller closes it with 1008).
import { createTokenBucket } from "../lib/rate-limiter";

export interface FrameThrottle {
  /** Hands `raw` to `deliver` now or once the budget allows; false when too much is already waiting. */
  offer(raw: string, cost: number, deliver: (raw: string) => void): boolean;
  /** Drops what waits (the socket closed). */
  stop(): void;
}

/** `ratePerSecond` frame units a second; at most `capacity` units spent in a burst, and as many waiting. */
export function createFrameThrottle(ratePerSecond: number, capacity: number): FrameThrottle {
  const bucket = createTokenBucket(ratePerSecond, capacity);
  const waiting: { raw: string; cost: number; deliver: (raw: string) => void }[] = [];
  let waitingCost = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const drain = () => {
    timer = null;
    while (waiting.length > 0) {
      const next = waiting[0]!;
      if (!bucket.take(next.cost)) {
        timer = setTimeout(drain, bucket.waitMs(next.cost));
        return;
      }
      waiting.shift();
      waitingCost -= next.cost;
      next.deliver(next.raw);
    }
  };

  return {
    offer(raw, cost, deliver) {
      // Frames keep their order: once one waits, later ones wait behind it.
      if (waiting.length === 0 && bucket.take(cost)) {
        deliver(raw);
        return true;
      }
      if (waitingCost + cost > capacity) return false;
      waiting.push({ raw, cost, deliver });
      waitingCost += cost;
      timer ??= setTimeout(drain, bucket.waitMs(waiting[0]!.cost));
      return true;
    },
    stop() {
      if (timer) clearTimeout(timer);
      timer = null;
      waiting.length = 0;
      waitingCost = 0;
    },
  };
}

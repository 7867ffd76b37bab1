// Sliding-window limits per key (logins) and token buckets (socket frames). Both run on a monotonic
// clock: a wall-clock step (NTP, a VM resumed, an operator's `date -s`) must neither unlock a key nor
// lock it for a day (a step back once gave `Retry-After: 86458`).
//
// Sliding windows: at most `limit` hits in any `windowMs`, whenever they fall. (Fixed windows aligned
// to the clock let 2 × limit through around each boundary, and made "the 11th try within a minute"
// depend on where the minute began.) Memory stays bounded: each key keeps at most `limit` timestamps,
// and keys idle for a whole window are swept.
import { monotonicMs } from "./time";

export interface RateLimiter {
  /** Counts one hit; returns 0 when allowed, else the seconds until the key may try again. */
  hit(key: string): number;
  reset(key: string): void;
}

/** A limiter whose counts may live outside this process (shared by instances): a hit may answer later. */
export interface SharedRateLimiter {
  hit(key: string): number | Promise<number>;
  reset(key: string): void;
}

/**
 * The limiter port: makes named limiters that every instance of a cluster counts together. The
 * composition root provides one when a broker is configured; without one, limits are per process.
 */
export interface RateLimiterFactory {
  /** `local` counts when the shared store cannot be reached (a limit is never lifted by an outage). */
  create(name: string, limit: number, windowMs: number, local: RateLimiter): SharedRateLimiter;
  close(): void;
}

export function createRateLimiter(limit: number, windowMs: number, enabled = true, clock: () => number = monotonicMs): RateLimiter {
  /** Per key, the times of its allowed hits within the last window, oldest first. */
  const hits = new Map<string, number[]>();
  let sweptAt = -Infinity;
  const sweep = (t: number) => {
    if (t - sweptAt < windowMs) return;
    sweptAt = t;
    for (const [key, times] of hits) if (t - times[times.length - 1]! >= windowMs) hits.delete(key);
  };
  const maxWait = Math.max(1, Math.ceil(windowMs / 1000));
  return {
    hit(key) {
      if (!enabled) return 0;
      const t = clock();
      sweep(t);
      let times = hits.get(key);
      if (!times) hits.set(key, (times = []));
      while (times.length && t - times[0]! >= windowMs) times.shift();
      // Refused hits are not recorded: the key may try again once its oldest hit leaves the window.
      // Never more than one window, whatever an injected clock does.
      if (times.length >= limit) return Math.min(maxWait, Math.max(1, Math.ceil((times[0]! + windowMs - t) / 1000)));
      times.push(t);
      return 0;
    },
    reset(key) {
      hits.delete(key);
    },
  };
}

/**
 * A token bucket: `ratePerSecond` tokens a second, holding at most `capacity`. A client that was quiet
 * (or whose frames queued up while either side was stopped) may spend its saved tokens in one burst;
 * a sustained rate above `ratePerSecond` runs it dry.
 */
export interface TokenBucket {
  /** Takes `cost` tokens; false (and nothing taken) when there are not enough. */
  take(cost?: number): boolean;
  /** Milliseconds until `cost` tokens are there (at least 1). */
  waitMs(cost?: number): number;
}

export function createTokenBucket(ratePerSecond: number, capacity: number, clock: () => number = monotonicMs): TokenBucket {
  let tokens = capacity;
  let at = clock();
  return {
    take(cost = 1) {
      const t = clock();
      // max(0, …): a clock that went back refills nothing rather than draining.
      tokens = Math.min(capacity, tokens + (Math.max(0, t - at) * ratePerSecond) / 1000);
      at = t;
      if (tokens < cost) return false;
      tokens -= cost;
      return true;
    },
    waitMs(cost = 1) {
      const t = clock();
      const now = Math.min(capacity, tokens + (Math.max(0, t - at) * ratePerSecond) / 1000);
      return Math.max(1, Math.ceil(((cost - now) * 1000) / ratePerSecond));
    },
  };
}

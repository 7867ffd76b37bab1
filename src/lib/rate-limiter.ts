// Fixed-window counters per key, bounded in memory: old windows are dropped as time moves on.
export interface RateLimiter {
  /** Counts one hit; returns 0 when allowed, else the seconds until the key may try again. */
  hit(key: string): number;
  reset(key: string): void;
}

export function createRateLimiter(limit: number, windowMs: number, enabled = true): RateLimiter {
  let windowStart = 0;
  let counts = new Map<string, number>();
  const roll = () => {
    const t = Date.now();
    if (t - windowStart >= windowMs) {
      windowStart = t - ((t - windowStart) % windowMs);
      if (t - windowStart >= windowMs) windowStart = t;
      counts = new Map();
    }
    return t;
  };
  return {
    hit(key) {
      if (!enabled) return 0;
      const t = roll();
      const n = (counts.get(key) ?? 0) + 1;
      counts.set(key, n);
      return n > limit ? Math.max(1, Math.ceil((windowStart + windowMs - t) / 1000)) : 0;
    },
    reset(key) {
      counts.delete(key);
    },
  };
}

// Sliding-window limits per key: at most `limit` hits in any `windowMs`, whenever they fall. (Fixed
// windows aligned to the clock let 2 × limit through around each boundary, and made "the 11th try
// within a minute" depend on where the minute began.) Memory stays bounded: each key keeps at
// most `limit` timestamps, and keys idle for a whole window are swept.
export interface RateLimiter {
  /** Counts one hit; returns 0 when allowed, else the seconds until the key may try again. */
  hit(key: string): number;
  reset(key: string): void;
}

export function createRateLimiter(limit: number, windowMs: number, enabled = true, clock: () => number = Date.now): RateLimiter {
  /** Per key, the times of its allowed hits within the last window, oldest first. */
  const hits = new Map<string, number[]>();
  let sweptAt = 0;
  const sweep = (t: number) => {
    if (t - sweptAt < windowMs) return;
    sweptAt = t;
    for (const [key, times] of hits) if (t - times[times.length - 1]! >= windowMs) hits.delete(key);
  };
  return {
    hit(key) {
      if (!enabled) return 0;
      const t = clock();
      sweep(t);
      let times = hits.get(key);
      if (!times) hits.set(key, (times = []));
      while (times.length && t - times[0]! >= windowMs) times.shift();
      // Refused hits are not recorded: the key may try again once its oldest hit leaves the window.
      if (times.length >= limit) return Math.max(1, Math.ceil((times[0]! + windowMs - t) / 1000));
      times.push(t);
      return 0;
    },
    reset(key) {
      hits.delete(key);
    },
  };
}

// The login budget counted in Redis, so ten guesses per account per minute hold for the cluster,
// not per instance (an attacker spreading tries over N instances would get N times the budget).
// The same sliding window as lib/rate-limiter.ts, as one script per hit: a sorted set per key of
// the allowed hits' times, on Redis's clock (one clock for every instance, whatever their own
// say). A refused hit is not recorded. If Redis cannot be reached, the in-process limiter counts
// instead: an outage must not lift the limit, and must not lock every login out either.
import type { Logger } from "../lib/logger";
import type { RateLimiter, RateLimiterFactory, SharedRateLimiter } from "../lib/rate-limiter";
import { RedisConn } from "./redis-conn";

const HIT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, math.ceil((tonumber(oldest[2]) + window - now) / 1000))
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0`;

export function sharedLimiters(url: string, log: Logger, prefix = "chat"): RateLimiterFactory {
  let warned = false;
  const conn = new RedisConn(url, (error) => {
    if (!warned) log.warn("shared rate limit unreachable: counting in this process", { error: String(error) });
    warned = true;
  });
  return {
    create(name: string, limit: number, windowMs: number, local: RateLimiter): SharedRateLimiter {
      const maxWait = Math.max(1, Math.ceil(windowMs / 1000));
      const keyOf = (key: string) => `${prefix}:limit:${name}:${key}`;
      return {
        async hit(key) {
          try {
            const wait = Number(await conn.send("EVAL", [HIT_SCRIPT, "1", keyOf(key), String(windowMs), String(limit), Bun.randomUUIDv7()]));
            warned = false;
            return Math.min(maxWait, wait);
          } catch {
            return local.hit(key);
          }
        },
        reset(key) {
          local.reset(key);
          conn.send("DEL", [keyOf(key)]).catch(() => {});
        },
      };
    },
    close: () => conn.close(),
  };
}

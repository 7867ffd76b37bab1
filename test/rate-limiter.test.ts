// The login limiter (at most `limit` hits in any window, wherever the window falls) and the socket
// frame bucket (a burst, then the steady rate), both on a monotonic clock.
import { afterEach, expect, setSystemTime, test } from "bun:test";
import { createRateLimiter, createTokenBucket } from "../src/lib/rate-limiter";

afterEach(() => setSystemTime());

function clocked(limit: number, windowMs: number) {
  let t = 1_700_000_059_900; // a wall-clock minute ends 100 ms later
  const limiter = createRateLimiter(limit, windowMs, true, () => t);
  return { limiter, advance: (ms: number) => (t += ms) };
}

test("the 11th hit within a minute is refused even when a clock minute ends between them", () => {
  const { limiter, advance } = clocked(10, 60_000);
  for (let i = 0; i < 10; i++) {
    expect(limiter.hit("alice")).toBe(0);
    advance(30); // the 4th hit already falls in the next clock minute
  }
  expect(limiter.hit("alice")).toBe(60);
});

test("a refused key may try again once its oldest hit is a window old, and says when", () => {
  const { limiter, advance } = clocked(3, 60_000);
  limiter.hit("k");
  advance(20_000);
  limiter.hit("k");
  limiter.hit("k");
  advance(10_000);
  expect(limiter.hit("k")).toBe(30); // the first hit leaves the window in 30 s
  advance(29_000);
  expect(limiter.hit("k")).toBe(1);
  advance(1_000);
  expect(limiter.hit("k")).toBe(0); // one slot freed
  expect(limiter.hit("k")).toBe(20); // the next two hits are 20 s from leaving
});

test("keys are counted apart, reset clears one key, and a disabled limiter never refuses", () => {
  const { limiter } = clocked(2, 60_000);
  limiter.hit("a");
  limiter.hit("a");
  expect(limiter.hit("a")).toBeGreaterThan(0);
  expect(limiter.hit("b")).toBe(0);
  limiter.reset("a");
  expect(limiter.hit("a")).toBe(0);
  const off = createRateLimiter(1, 60_000, false);
  for (let i = 0; i < 5; i++) expect(off.hit("a")).toBe(0);
});

test("refused hits do not extend the wait", () => {
  const { limiter, advance } = clocked(1, 60_000);
  limiter.hit("k");
  for (let i = 0; i < 59; i++) {
    advance(1_000);
    expect(limiter.hit("k")).toBe(60 - (i + 1));
  }
  advance(1_000);
  expect(limiter.hit("k")).toBe(0);
});

test("a wall clock stepped back a day neither lengthens the wait past the window nor unlocks the key", () => {
  const limiter = createRateLimiter(2, 60_000); // the default clock
  limiter.hit("k");
  limiter.hit("k");
  setSystemTime(new Date(Date.now() - 86_400_000));
  const wait = limiter.hit("k");
  expect(wait).toBeGreaterThan(0);
  expect(wait).toBeLessThanOrEqual(60);
  setSystemTime(new Date(Date.now() + 2 * 86_400_000));
  expect(limiter.hit("k")).toBeGreaterThan(0); // a step forward does not unlock it either
});

test("an injected clock that goes backwards never yields a wait longer than the window", () => {
  let t = 1_000_000;
  const limiter = createRateLimiter(1, 60_000, true, () => t);
  limiter.hit("k");
  t -= 86_400_000;
  expect(limiter.hit("k")).toBe(60);
});

test("the frame bucket lets a burst of twice the rate through after a pause, then holds the steady rate", () => {
  let t = 0;
  const bucket = createTokenBucket(50, 100, () => t);
  // Fresh: a whole burst of 100 (frames queued while a process was stopped arrive together).
  for (let i = 0; i < 100; i++) expect(bucket.take()).toBe(true);
  expect(bucket.take()).toBe(false);
  t += 1_000; // one second refills 50
  for (let i = 0; i < 50; i++) expect(bucket.take()).toBe(true);
  expect(bucket.take()).toBe(false);
  t += 20_000; // a long pause refills to the capacity, never beyond
  for (let i = 0; i < 100; i++) expect(bucket.take()).toBe(true);
  expect(bucket.take()).toBe(false);
  // Sustained 50/s, one every 20 ms, is never refused.
  for (let i = 0; i < 500; i++) {
    t += 20;
    expect(bucket.take()).toBe(true);
  }
  t -= 60_000; // a clock going back refills nothing and takes nothing
  expect(bucket.take()).toBe(false);
  expect(bucket.take(0)).toBe(true);
});

// The login limiter: at most `limit` hits in any window, wherever the window falls.
import { expect, test } from "bun:test";
import { createRateLimiter } from "../src/lib/rate-limiter";

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

// The gap tracker (src/realtime/redis-gaps.ts) against a model: revs 1..n of one conversation
// (each a new message, seq = rev) reach an instance in any order, some never, with any delays.
// Whatever the order: a repair never re-sends a rev that was delivered, every rev between the
// first and the last delivered ends up delivered or repaired exactly once, in-order delivery never
// triggers a repair, and nothing is repaired before the grace period has passed.
import { expect, test } from "bun:test";
import fc from "fast-check";
import { GapTracker } from "../../src/realtime/redis-gaps";
import { propertyParams } from "../support/property";

const GRACE = 1_000;
const C = "conversation";

const scenario = fc.integer({ min: 1, max: 60 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    order: fc.shuffledSubarray(
      Array.from({ length: n }, (_, i) => i + 1),
      { minLength: 1 },
    ),
    delays: fc.array(fc.integer({ min: 0, max: 1_500 }), { minLength: n, maxLength: n }),
  }),
);

/** Delivers `order` with `delays`, repairing whatever is due after each step and at the end. */
function run(order: number[], delays: number[]) {
  let t = 0;
  const tracker = new GapTracker(GRACE, () => t);
  const delivered: number[] = [];
  const repaired: number[] = [];
  const repairDue = () => {
    for (const gap of tracker.due()) {
      const sent: number[] = [];
      for (let rev = gap.afterRev + 1; rev <= gap.untilRev; rev++) {
        if (gap.seen.has(rev)) continue;
        // Never a rev the instance already delivered, and a message it never showed is new.
        expect(delivered).not.toContain(rev);
        expect(gap.seqDelivered(rev)).toBe(false);
        sent.push(rev);
      }
      repaired.push(...sent);
      tracker.repaired(gap, sent.map((rev) => ({ rev, seq: rev, created: true })));
    }
  };
  order.forEach((rev, i) => {
    t += delays[i]!;
    repairDue();
    // A rev repaired meanwhile arrives late: the bus does not deliver it again.
    expect(tracker.wasRepaired(C, rev)).toBe(repaired.includes(rev));
    if (!repaired.includes(rev)) delivered.push(rev);
    tracker.note(C, rev, rev);
  });
  t += GRACE;
  repairDue();
  return { tracker, delivered, repaired };
}

test("property: repairs fill exactly the revs that never arrived, between the first and the last that did", () => {
  fc.assert(
    fc.property(scenario, ({ order, delays }) => {
      const { tracker, delivered, repaired } = run(order, delays);
      const first = order[0]!;
      const last = Math.max(...order);
      const all = [...delivered, ...repaired].filter((r) => r >= first).sort((x, y) => x - y);
      const expected = Array.from({ length: last - first + 1 }, (_, i) => first + i);
      expect(all).toEqual(expected);
      expect(tracker.floorOf(C)).toBe(last);
      expect(tracker.due()).toEqual([]);
    }),
    propertyParams("gap tracker fills every hole once"),
  );
});

test("property: in-order delivery, or any order within the grace period, repairs nothing", () => {
  fc.assert(
    fc.property(scenario, fc.boolean(), ({ n, order, delays }, sorted) => {
      const all = Array.from({ length: n }, (_, i) => i + 1);
      let t = 0;
      const tracker = new GapTracker(GRACE, () => t);
      // Either every rev in order with any delays, or every rev shuffled within one grace period.
      const revs = sorted ? all : [...order, ...all.filter((r) => !order.includes(r))];
      const step = sorted ? (i: number) => delays[i]! : () => Math.floor((GRACE - 1) / n);
      revs.forEach((rev, i) => {
        t += step(i);
        tracker.note(C, rev, rev);
        expect(tracker.due()).toEqual([]);
      });
      expect(tracker.floorOf(C)).toBe(n);
    }),
    propertyParams("gap tracker: no repair without a gap"),
  );
});

test("a hole is repaired only once it has been missing for the grace period", () => {
  let t = 0;
  const tracker = new GapTracker(GRACE, () => t);
  tracker.note(C, 1, 1);
  tracker.note(C, 3, 3);
  t += GRACE - 1;
  expect(tracker.due()).toEqual([]);
  t += 1;
  const [gap] = tracker.due();
  expect(gap).toMatchObject({ conversationId: C, afterRev: 1, untilRev: 3 });
  expect([...gap!.seen]).toEqual([3]);
  expect(gap!.seqDelivered(2)).toBe(false);
  expect(gap!.seqDelivered(3)).toBe(true);
});

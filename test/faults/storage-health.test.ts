// StorageHealth's bookkeeping with a fake clock: what /health and the log say around a stall and a
// failure. (The faults themselves are injected for real in disk-full, stall and read-only tests.)
import { describe, expect, test } from "bun:test";
import { StorageHealth } from "../../src/storage-health";

function withLog() {
  const lines: [string, Record<string, unknown> | undefined][] = [];
  const log = { warn: (msg: string, fields?: Record<string, unknown>) => lines.push([msg, fields]), info: (msg: string, fields?: Record<string, unknown>) => lines.push([msg, fields]) };
  let now = 1000;
  const storage = new StorageHealth(log, () => now);
  return { storage, lines, advance: (ms: number) => (now += ms) };
}

describe("storage stalls", () => {
  test("a commit that blocked the event loop past the limit is logged once when it returns (inline writer)", () => {
    const { storage, lines, advance } = withLog();
    storage.commitStarted();
    advance(5000); // nothing ran meanwhile: the loop was blocked
    storage.commitFinished();
    expect(lines).toEqual([["storage stalled", { stalled_ms: 5000, event_loop_blocked: true }]]);
    storage.commitStarted();
    advance(10);
    storage.commitFinished();
    expect(lines.length).toBe(1);
  });

  test("a stall seen while it lasts (writer thread) says stalled, then over, and /health's problem clears", () => {
    const { storage, lines, advance } = withLog();
    storage.commitStarted();
    advance(2500);
    expect(storage.problem()?.code).toBe("storage_stalled");
    advance(1000);
    storage.commitFinished();
    expect(storage.problem()).toBeNull();
    expect(lines.map(([msg]) => msg)).toEqual(["storage stalled", "storage stall over"]);
  });

  test("writes on the event loop wait only once a commit has been pending 150 ms, and go when it returns", async () => {
    const { storage, advance } = withLog();
    expect(storage.writesWait()).toBeNull(); // no commit pending
    storage.commitStarted();
    advance(149);
    expect(storage.writesWait()).toBeNull(); // a healthy batch
    advance(1);
    const first = storage.writesWait();
    const second = storage.writesWait();
    expect(first).toBeInstanceOf(Promise);
    expect(second).toBe(first!); // one promise for every held write
    let released = false;
    void first!.then(() => (released = true));
    advance(5000);
    await Bun.sleep(0);
    expect(released).toBe(false);
    storage.commitFinished();
    await first;
    expect(released).toBe(true);
    expect(storage.writesWait()).toBeNull();
    // The next commit that stalls holds writes again, with a new promise.
    storage.commitStarted();
    advance(200);
    expect(storage.writesWait()).not.toBe(first!);
  });

  test("where writes do not block the loop (PostgreSQL) nothing is held", () => {
    let now = 1000;
    const storage = new StorageHealth({ warn() {}, info() {} }, () => now, undefined, false);
    storage.commitStarted();
    now += 10_000;
    expect(storage.writesWait()).toBeNull();
    expect(storage.problem()?.code).toBe("storage_stalled");
  });

  test("after a full disk, writes are held only while the WAL has frames not yet checkpointed", () => {
    let backlog: number | null = 12;
    const storage = new StorageHealth({ warn() {}, info() {} }, undefined, () => backlog);
    expect(storage.writesHeld).toBe(false);
    storage.noteFailure({ code: "storage_full", reason: "full" }, "database or disk is full");
    expect(storage.writesHeld).toBe(true);
    backlog = 0;
    expect(storage.writesHeld).toBe(false);
    backlog = 5;
    storage.noteFailure({ code: "storage_unavailable", reason: "io_error" }, "disk I/O error");
    expect(storage.writesHeld).toBe(false);
  });
});

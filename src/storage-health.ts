// What the server knows about its disk: whether the last write failed (disk full, I/O error,
// read-only file system) and whether a commit has been waiting on the disk for too long. Fed by
// the message writer and by the error renderer; read by /health and /metrics. It logs one line
// when the state changes (failing, stalled, recovered), never one per failed request.
import { statSync } from "node:fs";
import type { StorageFault, StorageFaultCode } from "./storage-faults";

type Log = { warn(msg: string, fields?: Record<string, unknown>): void; info(msg: string, fields?: Record<string, unknown>): void };

/** A commit pending longer than this is a stalled disk. */
export const STALL_AFTER_MS = 2000;

/**
 * A commit pending longer than this holds back the writes still made on the event loop (signup,
 * mark read, last_seen, …) until it returns: on a frozen file system even write() blocks, and one
 * such write would stop the whole loop. Long enough that a big healthy batch never trips it.
 */
export const HOLD_WRITES_AFTER_MS = 150;

export interface StorageProblem {
  code: StorageFaultCode | "storage_stalled";
  detail: string;
}

export class StorageHealth {
  /** Failures counted by reason (full, io_error, read_only, cant_open), for /metrics. */
  readonly failures = new Map<string, number>(["full", "io_error", "read_only", "cant_open"].map((r) => [r, 0]));
  private failing: { fault: StorageFault; since: number; error: string } | null = null;
  private pendingSince = 0;
  private stallLogged = false;
  /** Settled when the pending commit returns; made only when a write asked to wait for it. */
  private commitReturned: { promise: Promise<void>; resolve: () => void } | null = null;

  constructor(
    private readonly log: Log,
    private readonly clock: () => number = () => performance.now(),
    /** Frames in the WAL not yet copied into the database (db/checkpointer.ts walBacklog); null: unknown. */
    private readonly walBacklog: () => number | null = () => null,
    /** Whether writes outside the writer block the event loop (SQLite's; PostgreSQL's await the network). */
    private readonly loopWritesBlock = true,
  ) {}

  /**
   * True while writes must wait for a checkpoint. A full disk stops checkpoints too (chat.db must
   * grow to take the WAL's pages), and until one completes the WAL cannot restart, so every commit
   * appends to it: sends retried as soon as space is freed take that space, the checkpoint never
   * finds room, and the disk stays full for good (the stress run's "no recovery"). So after a
   * full-disk failure no send is attempted while the WAL holds frames not yet checkpointed; once it
   * holds none, the next commit rewrites the WAL from its start, in space it already has.
   */
  get writesHeld(): boolean {
    if (this.failing?.fault.reason !== "full") return false;
    return (this.walBacklog() ?? 0) > 0;
  }

  /** The failure that holds writes back, to answer held sends with. */
  get failingError(): string {
    return this.failing?.error ?? "";
  }

  /** A write failed with a storage fault. */
  noteFailure(fault: StorageFault, error: string, count = 1) {
    this.failures.set(fault.reason, (this.failures.get(fault.reason) ?? 0) + count);
    if (this.failing?.fault.reason === fault.reason) return;
    this.failing = { fault, since: Date.now(), error };
    this.log.warn("storage failing", { code: fault.code, reason: fault.reason, error });
  }

  /** A write committed: whatever failed before works again. */
  noteSuccess() {
    if (!this.failing) return;
    const { fault, since } = this.failing;
    this.failing = null;
    this.log.info("storage recovered", { code: fault.code, failing_ms: Date.now() - since });
  }

  /** The writer started a commit (and may wait on the disk). */
  commitStarted() {
    this.pendingSince = this.clock();
  }

  commitFinished() {
    const stalledMs = Math.round(this.clock() - this.pendingSince);
    if (this.stallLogged) {
      this.stallLogged = false;
      this.log.info("storage stall over", { stalled_ms: stalledMs });
    } else if (this.pendingSince && stalledMs > STALL_AFTER_MS) {
      // An inline commit blocks the event loop, so nothing could notice the stall while it lasted
      // (not /health, not the watch timer): it is logged once, afterwards.
      this.log.warn("storage stalled", { stalled_ms: stalledMs, event_loop_blocked: true });
    }
    this.pendingSince = 0;
    const waiting = this.commitReturned;
    this.commitReturned = null;
    waiting?.resolve();
  }

  /**
   * Null when a write may run now; otherwise a promise settled when the commit that has been
   * waiting on the disk for HOLD_WRITES_AFTER_MS returns (the disk answers again). Writes on the
   * event loop ask first, so a stalled disk holds them instead of the loop. A write that began
   * before the commit had waited that long still blocks (the README says so).
   */
  writesWait(): Promise<void> | null {
    if (!this.loopWritesBlock || !this.pendingSince || this.clock() - this.pendingSince < HOLD_WRITES_AFTER_MS) return null;
    this.commitReturned ??= Promise.withResolvers<void>();
    return this.commitReturned.promise;
  }

  /** Milliseconds the current commit has been waiting, 0 when none is. */
  get pendingMs(): number {
    return this.pendingSince ? this.clock() - this.pendingSince : 0;
  }

  get failingFault(): StorageFault | null {
    return this.failing?.fault ?? null;
  }

  /** Checks for a stall once a second (so it is logged even when nobody asks /health); returns stop. */
  watch(): () => void {
    const timer = setInterval(() => this.problem(), 1000);
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * While writes fail, checks once a second that `path` still names the file this process opened
   * (its device and inode now, at start). A file system that went read-only after an error
   * cannot be made writable under open files; an operator detaches it, repairs it and mounts it
   * again, and the files this process holds stay on the broken mount. SQLite cannot reopen them, so
   * `onLost` is called once with why, for the server to stop and be restarted. Returns stop.
   */
  watchFile(path: string, onLost: (detail: string) => void): () => void {
    const opened = statSync(path);
    const timer = setInterval(() => {
      if (!this.failing) return;
      let now: { dev: number; ino: number } | null = null;
      try {
        now = statSync(path);
      } catch {
        // Gone or unreadable: the mount is being repaired; not yet something to restart into.
        return;
      }
      if (now.dev === opened.dev && now.ino === opened.ino) return;
      clearInterval(timer);
      const { fault } = this.failing;
      this.log.warn("storage lost", { path, reason: fault.reason, detail: "the database path now names another file (file system remounted or file replaced) while the open one fails" });
      onLost(`${path} is no longer the file this server opened (its file system was remounted or the file replaced) and writes to the open one fail (${fault.reason})`);
    }, 1000);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Null when storage is fine; otherwise why /health must say 503. */
  problem(): StorageProblem | null {
    const pending = this.pendingMs;
    if (pending > STALL_AFTER_MS) {
      if (!this.stallLogged) {
        this.stallLogged = true;
        this.log.warn("storage stalled", { pending_ms: Math.round(pending) });
      }
      return { code: "storage_stalled", detail: `A commit has been waiting on the disk for ${Math.round(pending / 1000)} s` };
    }
    if (this.failing) {
      const { fault } = this.failing;
      return {
        code: fault.code,
        detail: fault.code === "storage_full" ? "The disk is full: writes fail" : `Storage cannot be written (${fault.reason})`,
      };
    }
    return null;
  }
}

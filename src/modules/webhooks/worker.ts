// The webhook delivery worker: sends the events the triggers wrote to the outbox, at least once and
// in order per conversation (the outbox only ever hands out a key's head), with a per-hook
// concurrency limit and exponential backoff with jitter for 24 h. It reaches the outbox only through
// the WebhookOutbox port (SQLite: db/stores/webhook-outbox.ts; PostgreSQL, several instances:
// storage/postgres/stores/webhook-outbox.ts).
//
// It never blocks the event loop for long: HTTP is async, and the outbox work is a few indexed
// queries per round. It reads the hooks every round, so hooks added or removed by the CLI while the
// server runs take effect within one poll; the poll also finds retries coming due and events written
// by another process or instance.
import type { Logger } from "../../lib/logger";
import { iso } from "../../lib/time";
import type { DeliveryOutcome, OutboxEvent, OutboxHook, WebhookOutbox } from "../../ports/webhook-outbox";
import { gauge } from "../metrics/registry";
import { pinnedRequest, resolveTarget, TargetRefused, type Lookup } from "./address";
import { signature } from "./signature";

export interface WebhookWorkerOptions {
  /** Where the events wait: the SQLite or the PostgreSQL adapter. */
  outbox: WebhookOutbox;
  allowPrivate: boolean;
  timeoutMs: number;
  log: Pick<Logger, "warn" | "debug">;
  /** Idle poll: retries coming due, hooks added and rows written by another process. */
  pollMs?: number;
  /** How long an event is retried, from its creation, before it is kept as failed. */
  retryWindowMs?: number;
  /** First retry delay; doubled per attempt, capped at maxBackoffMs, then jittered down to half. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * How long a claimed event is this worker's alone, where the outbox leases (PostgreSQL): past it,
   * a worker that died mid-delivery has its events sent by another. Longer than a delivery can take.
   */
  leaseMs?: number;
  /** The resolver of hook hosts (tests stand in for DNS); the system's by default. */
  lookup?: Lookup;
  /** StorageHealth.writesWait: outcomes are recorded after a stalled disk answers, not into it. */
  writesWait?: () => Promise<void> | null;
}

export interface WebhookWorker {
  /** Runs a round soon (after a commit): coalesced, never inline; skipped while the last round found no hook. */
  wake(): void;
  /** Aborts deliveries in flight (they stay pending and are sent after the restart), records the finished ones. */
  stop(): Promise<void>;
  /** Prometheus lines: deliveries by result since start, events waiting now. */
  metrics(): string;
  /**
   * Records finished deliveries now, if any: called by the message writer between two of its
   * commits, when the write lock is free (with the writer thread it is held almost always under
   * load, and a recording at another moment finds it busy).
   */
  recordOutcomes(): void;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const BUSY_RETRY_MS = 50;
/** Deliveries one key may chain back to back before its slot goes back to the round. */
const MAX_CHAIN = 64;
/**
 * Events sent but not yet recorded, at most: past it no delivery starts until outcomes are
 * recorded. Each round re-reads the due events plus this many (they stay due until recorded),
 * so without a bound a lock that keeps refusing the recording made every round read more.
 */
const MAX_UNRECORDED = 1000;
/** Beyond the HTTP timeout: name resolution and recording the outcome. */
const LEASE_MARGIN_MS = 60_000;

export function createWebhookWorker(options: WebhookWorkerOptions): WebhookWorker {
  const { outbox, log, allowPrivate, timeoutMs } = options;
  const pollMs = options.pollMs ?? 200;
  const retryWindowMs = options.retryWindowMs ?? DAY_MS;
  const baseBackoffMs = options.baseBackoffMs ?? 1000;
  const maxBackoffMs = options.maxBackoffMs ?? 60 * 60 * 1000;
  const leaseMs = options.leaseMs ?? timeoutMs + LEASE_MARGIN_MS;

  const stats = { delivered: 0, failedAttempts: 0, failed: 0 };
  /** The last pending count an asynchronous outbox answered, for the synchronous metrics(). */
  let lastPending = 0;

  /** Events being sent, or sent but not yet recorded: a round must not start them again. */
  const inFlight = new Set<number>();
  const busyByHook = new Map<string, number>();
  const running = new Set<Promise<void>>();
  /** Events stopping aborted: given back to the outbox. */
  const unsent: OutboxEvent[] = [];
  let outcomes: DeliveryOutcome[] = [];
  let stopped = false;
  let roundTimer: ReturnType<typeof setTimeout> | null = null;
  let flushTimer: ReturnType<typeof setTimeout> | null = null;
  let currentRound: Promise<void> | null = null;
  let roundAgain = false;
  /** Whether the last round found any hook: without one, a commit wrote no event and needs no round. */
  let hooksSeen = true;
  let flushing: Promise<void> | null = null;
  const aborter = new AbortController();

  const busy = (hookId: string) => busyByHook.get(hookId) ?? 0;

  function round() {
    roundTimer = null;
    if (stopped) return;
    // One round at a time: a wake during a round runs another right after it.
    if (currentRound) return void (roundAgain = true);
    currentRound = claimRound().finally(() => {
      currentRound = null;
      if (unsent.length > 0 && !stopped) void giveBack();
      if (roundAgain) {
        roundAgain = false;
        wake();
      }
    });
  }

  /** Starts the due events of every hook with a free slot. */
  async function claimRound() {
    try {
      const hooks = await outbox.hooks();
      hooksSeen = hooks.length > 0;
      for (const hook of hooks) {
        if (stopped || inFlight.size >= MAX_UNRECORDED) break;
        if (busy(hook.id) >= hook.concurrency) continue;
        const free = hook.concurrency - busy(hook.id);
        for (const event of await outbox.claimDue(hook.id, free, Date.now(), leaseMs, inFlight)) {
          if (inFlight.has(event.id)) continue;
          if (stopped || busy(hook.id) >= hook.concurrency) {
            unsent.push(event); // claimed beyond the limit (another round raced): given back
            continue;
          }
          start(hook, event);
        }
      }
    } catch (error) {
      log.warn("webhook outbox read failed", { error: String(error) });
    }
  }

  function start(hook: OutboxHook, event: OutboxEvent, chained = 0) {
    inFlight.add(event.id);
    busyByHook.set(hook.id, busy(hook.id) + 1);
    const task = deliver(hook, event).then(async (error) => {
      if (stopped && aborter.signal.aborted && error !== null) {
        busyByHook.set(hook.id, busy(hook.id) - 1);
        inFlight.delete(event.id); // aborted by stop(): stays pending for the next start
        unsent.push(event);
        return;
      }
      const at = Date.now();
      if (error === null) stats.delivered++;
      else stats.failedAttempts++;
      outcomes.push(error === null ? { event, at, error } : { event, at, error, retryAt: retryAt(event, at) });
      flushSoon(0);
      // A busy conversation keeps its slot (held while the next is claimed) for a while, then yields
      // it to the others' heads.
      let next: OutboxEvent | null = null;
      if (error === null && !stopped && chained < MAX_CHAIN && inFlight.size < MAX_UNRECORDED) {
        try {
          next = await outbox.claimNext(event, Date.now(), leaseMs);
        } catch {
          // The next round finds it.
        }
      }
      busyByHook.set(hook.id, busy(hook.id) - 1);
      if (next && !inFlight.has(next.id)) {
        if (stopped) unsent.push(next);
        else start(hook, next, chained + 1);
      }
    });
    running.add(task);
    void task.finally(() => running.delete(task));
  }

  /** When to try again after a failed attempt, or null when the retry window is over. */
  function retryAt(event: OutboxEvent, at: number): number | null {
    const delay = Math.min(maxBackoffMs, baseBackoffMs * 2 ** event.attempts);
    const next = at + delay / 2 + (Math.random() * delay) / 2;
    return next > event.createdAt + retryWindowMs ? null : Math.round(next);
  }

  /** One POST; null when the receiver answered 2xx, else why not. */
  async function deliver(hook: OutboxHook, event: OutboxEvent): Promise<string | null> {
    const body = `{"id":"${event.id}","type":"${event.type}","created_at":"${iso(event.createdAt)}","data":${event.payload}}`;
    const t = Math.floor(Date.now() / 1000);
    try {
      const url = new URL(hook.url);
      // Resolved and checked once; the connection goes to that address (no second resolution).
      const target = pinnedRequest(url, await resolveTarget(url, allowPrivate, options.lookup));
      const response = await fetch(target.href, {
        method: "POST",
        body,
        ...(target.tls ? { tls: target.tls } : {}),
        headers: {
          host: target.host,
          "content-type": "application/json",
          "user-agent": "chat-server-webhooks",
          "chat-signature": signature(hook.secret, t, body),
          "chat-event-id": String(event.id),
          "chat-event-type": event.type,
        },
        redirect: "manual",
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), aborter.signal]),
      });
      // The body is never read: a huge or endless one costs nothing.
      void response.body?.cancel().catch(() => {});
      if (response.status >= 200 && response.status < 300) return null;
      if (response.status >= 300 && response.status < 400) return `HTTP ${response.status} (redirects are not followed)`;
      return `HTTP ${response.status}`;
    } catch (error) {
      if (error instanceof TargetRefused) return error.message;
      const name = (error as { name?: string }).name;
      if (name === "TimeoutError") return `no answer within ${timeoutMs / 1000} s`;
      if (name === "AbortError") return "aborted: server stopping";
      return (error as { code?: string }).code ?? String(error);
    }
  }

  function flushSoon(delay: number) {
    if (flushTimer || stopped) return;
    flushTimer = setTimeout(() => {
      flushTimer = null;
      void flush().then(wake);
    }, delay);
  }

  /** Records the outcomes so far in one batch; on failure keeps them (and their events out of rounds) and retries. */
  function flush(): Promise<void> {
    if (flushing) return flushing.then(() => (outcomes.length > 0 ? flush() : undefined));
    if (outcomes.length === 0) return Promise.resolve();
    const stalled = options.writesWait?.();
    if (stalled) return stalled.then(flush);
    const batch = outcomes;
    outcomes = [];
    // Cleared after the assignment below: SQLite's record throws SQLITE_BUSY synchronously, and
    // an IIFE whose `finally` ran before `flushing` was assigned left it set to a settled promise,
    // which turned every later flush into a microtask loop (the event loop never turned again).
    const recording = (async () => {
      try {
        const gaveUp = await outbox.record(batch);
        for (const { event, error } of gaveUp) {
          stats.failed++;
          log.warn("webhook event given up after retrying", { hook_id: event.hookId, event_id: String(event.id), attempts: event.attempts + 1, error });
        }
        for (const o of batch) inFlight.delete(o.event.id);
      } catch (error) {
        // Busy (a commit holds the lock) or failing: keep the outcomes and the events out of rounds.
        outcomes = batch.concat(outcomes);
        log.debug("webhook outcomes not recorded yet", { error: String(error) });
        flushSoon(BUSY_RETRY_MS);
      }
    })();
    flushing = recording.finally(() => {
      flushing = null;
    });
    return flushing;
  }

  async function giveBack() {
    const events = unsent.splice(0);
    try {
      await outbox.release(events);
    } catch {
      // Their leases run out instead.
    }
  }

  function wake() {
    if (!roundTimer && !stopped) roundTimer = setTimeout(round, 0);
  }

  const poll = setInterval(() => {
    if (!roundTimer) round();
  }, pollMs);
  wake();

  return {
    // Per committed change: nothing to do without hooks (one added meanwhile is found by the poll).
    wake: () => {
      if (hooksSeen) wake();
    },
    recordOutcomes: () => {
      if (outcomes.length > 0 && !flushing && !stopped) void flush().then(wake);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(poll);
      if (roundTimer) clearTimeout(roundTimer);
      if (flushTimer) clearTimeout(flushTimer);
      aborter.abort();
      await currentRound;
      while (running.size > 0) await Promise.allSettled([...running]);
      try {
        await flush();
      } catch {}
      await giveBack();
    },
    metrics() {
      let pending = lastPending;
      try {
        const answer = outbox.pending();
        if (answer instanceof Promise) answer.then((n) => (lastPending = n), () => {});
        else pending = answer;
      } catch {}
      return [
        gauge("chat_webhook_deliveries_total", "Webhook delivery attempts since start, by result (failed attempts are retried).", [
          [{ result: "delivered" }, stats.delivered],
          [{ result: "failed" }, stats.failedAttempts],
        ], "counter"),
        gauge("chat_webhook_events_failed_total", "Webhook events given up on after retrying for the retry window (24 h) since start.", [[{}, stats.failed]], "counter"),
        gauge("chat_webhook_events_pending", "Webhook events waiting for delivery (including retries).", [[{}, pending]]),
      ].join("\n");
    },
  };
}

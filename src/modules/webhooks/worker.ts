// The webhook delivery worker: sends the outbox rows the triggers wrote, at least once and in order
// per conversation (only a key's head is ever due: the triggers and promote() keep the others
// waiting), with a per-hook concurrency limit and exponential backoff with jitter for 24 h.
//
// It never blocks the event loop for long: HTTP is async, and its SQLite work is a few indexed
// queries per round on its own connection, with synchronous=NORMAL (losing an outcome to a power
// cut only means a redelivery with the same id) and a short busy timeout (a busy write is retried
// later instead of waiting on the message writer's fsync). It reads the webhooks table every round,
// so hooks added or removed by the CLI while the server runs take effect within one poll.
import { Database } from "bun:sqlite";
import type { Logger } from "../../lib/logger";
import { iso } from "../../lib/time";
import { gauge } from "../metrics/registry";
import { pinnedRequest, resolveTarget, TargetRefused, type Lookup } from "./address";
import { signature } from "./signature";

export interface WebhookWorkerOptions {
  /** The database file (the worker opens its own connection when no `client` is given). */
  path: string;
  /**
   * The server's own connection. Commits of another connection count as another process's change
   * for the main connection (SQLite data_version): they drop every in-memory cache and SQLite's page
   * cache, after every recorded delivery. On the shared connection they are the server's own.
   */
  client?: Database;
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
  /** The resolver of hook hosts (tests stand in for DNS); the system's by default. */
  lookup?: Lookup;
}

export interface WebhookWorker {
  /** Runs a round soon (after a commit): coalesced, never inline. */
  wake(): void;
  /** Aborts deliveries in flight (they stay pending and are sent after the restart), records the finished ones. */
  stop(): Promise<void>;
  /** Prometheus lines: deliveries by result since start, events waiting now. */
  metrics(): string;
}

interface Hook {
  id: string;
  url: string;
  secret: string;
  concurrency: number;
}

interface Row {
  id: number;
  hook_id: string;
  type: string;
  order_key: string;
  created_at: number;
  payload: string;
  attempts: number;
}

type Outcome = { row: Row; error: string | null; at: number };

const DAY_MS = 24 * 60 * 60 * 1000;
const BUSY_RETRY_MS = 50;
/** Deliveries one key may chain back to back before its slot goes back to the round. */
const MAX_CHAIN = 64;

export function createWebhookWorker(options: WebhookWorkerOptions): WebhookWorker {
  const { log, allowPrivate, timeoutMs } = options;
  const pollMs = options.pollMs ?? 200;
  const retryWindowMs = options.retryWindowMs ?? DAY_MS;
  const baseBackoffMs = options.baseBackoffMs ?? 1000;
  const maxBackoffMs = options.maxBackoffMs ?? 60 * 60 * 1000;

  const shared = options.client !== undefined;
  const db = options.client ?? new Database(options.path, { strict: true });
  if (!shared) {
    db.run("PRAGMA busy_timeout = 10");
    db.run("PRAGMA synchronous = NORMAL");
    db.run("PRAGMA foreign_keys = ON");
    // The checkpointer thread (and the main connection's fallback) checkpoint; never this one.
    db.run("PRAGMA wal_autocheckpoint = 0");
  }

  const hooksQuery = db.query<Hook, []>("SELECT id, url, secret, concurrency FROM webhooks");
  const dueQuery = db.query<Row, [string, number, number]>(
    `SELECT id, hook_id, type, order_key, created_at, payload, attempts FROM webhook_outbox
     WHERE hook_id = ? AND status = 'pending' AND next_attempt_at IS NOT NULL AND next_attempt_at <= ?
     ORDER BY next_attempt_at, id LIMIT ?`,
  );
  // The event after this one in its key, sent as soon as this one got its 2xx (before the outcome
  // is recorded): one event-loop turn per delivery instead of a record-then-poll cycle.
  const nextQuery = db.query<Row, [string, string, number]>(
    `SELECT id, hook_id, type, order_key, created_at, payload, attempts FROM webhook_outbox
     WHERE hook_id = ? AND order_key = ? AND status = 'pending' AND id > ? ORDER BY id LIMIT 1`,
  );
  const pendingQuery = db.query<{ n: number }, []>("SELECT count(*) AS n FROM webhook_outbox WHERE status = 'pending'");
  const remove = db.query("DELETE FROM webhook_outbox WHERE id = ?");
  const retry = db.query("UPDATE webhook_outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ? AND status = 'pending'");
  const giveUp = db.query("UPDATE webhook_outbox SET attempts = ?, next_attempt_at = NULL, last_error = ?, status = 'failed' WHERE id = ? AND status = 'pending'");
  // The next event of the same key becomes due once its predecessor is delivered or given up on.
  const promote = db.query(
    `UPDATE webhook_outbox SET next_attempt_at = 0 WHERE id = (
       SELECT id FROM webhook_outbox WHERE hook_id = ? AND order_key = ? AND status = 'pending' ORDER BY id LIMIT 1
     ) AND next_attempt_at IS NULL`,
  );
  const hookDelivered = db.query("UPDATE webhooks SET delivered_count = delivered_count + 1, last_delivered_at = ? WHERE id = ?");
  const hookAttemptFailed = db.query(
    "UPDATE webhooks SET attempt_failures = attempt_failures + 1, failed_count = failed_count + ?, last_error = ?, last_error_at = ? WHERE id = ?",
  );

  const stats = { delivered: 0, failedAttempts: 0, failed: 0 };

  /** Writes a batch of outcomes in one transaction; returns the events given up on (counted after the commit). */
  const recordOutcomes = db.transaction((outcomes: Outcome[]) => {
    const gaveUp: Outcome[] = [];
    for (const outcome of outcomes) {
      const { row, error, at } = outcome;
      if (error === null) {
        if (remove.run(row.id).changes === 0) continue; // the hook was removed meanwhile
        hookDelivered.run(at, row.hook_id);
        promote.run(row.hook_id, row.order_key);
        continue;
      }
      const attempts = row.attempts + 1;
      const delay = Math.min(maxBackoffMs, baseBackoffMs * 2 ** (attempts - 1));
      const next = at + delay / 2 + (Math.random() * delay) / 2;
      if (next > row.created_at + retryWindowMs) {
        if (giveUp.run(attempts, error, row.id).changes === 0) continue;
        hookAttemptFailed.run(1, error, at, row.hook_id);
        promote.run(row.hook_id, row.order_key);
        gaveUp.push(outcome);
      } else {
        if (retry.run(attempts, Math.round(next), error, row.id).changes === 0) continue;
        hookAttemptFailed.run(0, error, at, row.hook_id);
      }
    }
    return gaveUp;
  });
  // On the shared connection: no fsync for outcomes (a lost one means a redelivery, which at least
  // once allows; the next message commit's fsync covers them anyway) and a short wait for a lock
  // held by another process, since this runs on the event loop. Restored after.
  const sharedSettings = shared
    ? {
        synchronous: db.query<{ synchronous: number }, []>("PRAGMA synchronous").get()!.synchronous,
        busyTimeoutMs: Object.values(db.query("PRAGMA busy_timeout").get() as Record<string, number>)[0]!,
      }
    : null;
  const record = (outcomes: Outcome[]): Outcome[] => {
    if (!sharedSettings) return recordOutcomes(outcomes);
    db.run("PRAGMA synchronous = NORMAL");
    db.run("PRAGMA busy_timeout = 10");
    try {
      return recordOutcomes(outcomes);
    } finally {
      db.run(`PRAGMA synchronous = ${sharedSettings.synchronous}`);
      db.run(`PRAGMA busy_timeout = ${sharedSettings.busyTimeoutMs}`);
    }
  };

  /** Rows being sent or sent but not yet recorded: a round must not pick them again. */
  const inFlight = new Set<number>();
  const busyByHook = new Map<string, number>();
  const running = new Set<Promise<void>>();
  let outcomes: Outcome[] = [];
  let stopped = false;
  let roundTimer: ReturnType<typeof setTimeout> | null = null;
  let flushTimer: ReturnType<typeof setTimeout> | null = null;
  const aborter = new AbortController();

  function round() {
    roundTimer = null;
    if (stopped) return;
    let hooks: Hook[];
    try {
      hooks = hooksQuery.all();
      const at = Date.now();
      for (const hook of hooks) {
        const busy = busyByHook.get(hook.id) ?? 0;
        if (busy >= hook.concurrency) continue;
        // Rows in flight are still due, so ask for enough to find `free` others.
        for (const row of dueQuery.all(hook.id, at, hook.concurrency)) {
          if (inFlight.has(row.id)) continue;
          if ((busyByHook.get(hook.id) ?? 0) >= hook.concurrency) break;
          start(hook, row);
        }
      }
    } catch (error) {
      log.warn("webhook outbox read failed", { error: String(error) });
    }
  }

  function start(hook: Hook, row: Row, chained = 0) {
    inFlight.add(row.id);
    busyByHook.set(hook.id, (busyByHook.get(hook.id) ?? 0) + 1);
    const task = deliver(hook, row).then((error) => {
      running.delete(task);
      busyByHook.set(hook.id, (busyByHook.get(hook.id) ?? 1) - 1);
      if (stopped && aborter.signal.aborted && error !== null) {
        inFlight.delete(row.id); // aborted by stop(): stays pending for the next start
        return;
      }
      if (error === null) stats.delivered++;
      else stats.failedAttempts++;
      outcomes.push({ row, error, at: Date.now() });
      flushSoon(0);
      // A busy conversation keeps its slot for a while, then yields it to the others' heads.
      if (error === null && !stopped && chained < MAX_CHAIN) {
        try {
          const next = nextQuery.get(row.hook_id, row.order_key, row.id);
          if (next && !inFlight.has(next.id)) start(hook, next, chained + 1);
        } catch {
          // The next round finds it.
        }
      }
    });
    running.add(task);
  }

  /** One POST; null when the receiver answered 2xx, else why not. */
  async function deliver(hook: Hook, row: Row): Promise<string | null> {
    const body = `{"id":"${row.id}","type":"${row.type}","created_at":"${iso(row.created_at)}","data":${row.payload}}`;
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
          "chat-event-id": String(row.id),
          "chat-event-type": row.type,
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
      flush();
      wake();
    }, delay);
  }

  function flush() {
    if (outcomes.length === 0) return;
    const batch = outcomes;
    try {
      const gaveUp = record(batch);
      outcomes = [];
      for (const { row, error } of gaveUp) {
        stats.failed++;
        log.warn("webhook event given up after retrying", { hook_id: row.hook_id, event_id: String(row.id), attempts: row.attempts + 1, error });
      }
      for (const o of batch) inFlight.delete(o.row.id);
    } catch (error) {
      // Busy (a commit holds the lock) or failing: keep the outcomes and the rows out of rounds.
      log.debug("webhook outcomes not recorded yet", { error: String(error) });
      flushSoon(BUSY_RETRY_MS);
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
    wake,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(poll);
      if (roundTimer) clearTimeout(roundTimer);
      if (flushTimer) clearTimeout(flushTimer);
      aborter.abort();
      await Promise.allSettled([...running]);
      try {
        flush();
      } catch {}
      if (!shared) db.close();
    },
    metrics() {
      let pending = 0;
      try {
        pending = pendingQuery.get()?.n ?? 0;
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

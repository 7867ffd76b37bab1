// WebhookOutbox over SQLite: one process sends, so nothing is leased (the worker keeps its own set of
// events in flight) and a key's head is due by next_attempt_at alone (the triggers and promote keep
// the others waiting with NULL). A few indexed queries per round, run on the event loop.
//
// Connection: the server's own (`client`) or one of its own (`path`). Commits of another connection
// count as another process's change for the main connection (SQLite data_version): they drop every
// in-memory cache and SQLite's page cache after every recorded delivery, so the server shares its own.
// Outcomes are written with synchronous=NORMAL (losing one to a power cut only means a redelivery
// with the same id) and a short busy timeout (a busy write is retried later instead of waiting on
// the message writer's fsync); on the shared connection both are restored after.
import { Database } from "bun:sqlite";
import type { DeliveryOutcome, OutboxEvent, OutboxHook, WebhookOutbox } from "../../ports/webhook-outbox";

interface Row {
  id: number;
  hook_id: string;
  type: string;
  order_key: string;
  created_at: number;
  payload: string;
  attempts: number;
}

const COLUMNS = "id, hook_id, type, order_key, created_at, payload, attempts";
const eventOf = (r: Row): OutboxEvent => ({
  id: r.id,
  hookId: r.hook_id,
  type: r.type,
  orderKey: r.order_key,
  createdAt: r.created_at,
  payload: r.payload,
  attempts: r.attempts,
  leaseUntil: null,
});

function statements(db: Database) {
  return {
    hooks: db.query<OutboxHook, []>("SELECT id, url, secret, concurrency FROM webhooks"),
    due: db.query<Row, [string, number, number]>(
      `SELECT ${COLUMNS} FROM webhook_outbox
       WHERE hook_id = ? AND status = 'pending' AND next_attempt_at IS NOT NULL AND next_attempt_at <= ?
       ORDER BY next_attempt_at, id LIMIT ?`,
    ),
    next: db.query<Row, [string, string, number]>(
      `SELECT ${COLUMNS} FROM webhook_outbox
       WHERE hook_id = ? AND order_key = ? AND status = 'pending' AND id > ? ORDER BY id LIMIT 1`,
    ),
    pending: db.query<{ n: number }, []>("SELECT count(*) AS n FROM webhook_outbox WHERE status = 'pending'"),
    remove: db.query("DELETE FROM webhook_outbox WHERE id = ?"),
    retry: db.query("UPDATE webhook_outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ? AND status = 'pending'"),
    giveUp: db.query("UPDATE webhook_outbox SET attempts = ?, next_attempt_at = NULL, last_error = ?, status = 'failed' WHERE id = ? AND status = 'pending'"),
    // The next event of the same key becomes due once its predecessor is delivered or given up on.
    promote: db.query(
      `UPDATE webhook_outbox SET next_attempt_at = 0 WHERE id = (
         SELECT id FROM webhook_outbox WHERE hook_id = ? AND order_key = ? AND status = 'pending' ORDER BY id LIMIT 1
       ) AND next_attempt_at IS NULL`,
    ),
    hookDelivered: db.query("UPDATE webhooks SET delivered_count = delivered_count + 1, last_delivered_at = ? WHERE id = ?"),
    hookAttemptFailed: db.query(
      "UPDATE webhooks SET attempt_failures = attempt_failures + 1, failed_count = failed_count + ?, last_error = ?, last_error_at = ? WHERE id = ?",
    ),
  };
}

/** Writes a batch of outcomes (inside a transaction); returns the events given up on. */
function recordIn(sql: ReturnType<typeof statements>, outcomes: DeliveryOutcome[]): DeliveryOutcome[] {
  const gaveUp: DeliveryOutcome[] = [];
  for (const outcome of outcomes) {
    const { event, at } = outcome;
    if (outcome.error === null) {
      if (sql.remove.run(event.id).changes === 0) continue; // the hook was removed meanwhile
      sql.hookDelivered.run(at, event.hookId);
      sql.promote.run(event.hookId, event.orderKey);
      continue;
    }
    const attempts = event.attempts + 1;
    if (outcome.retryAt === null) {
      if (sql.giveUp.run(attempts, outcome.error, event.id).changes === 0) continue;
      sql.hookAttemptFailed.run(1, outcome.error, at, event.hookId);
      sql.promote.run(event.hookId, event.orderKey);
      gaveUp.push(outcome);
    } else {
      if (sql.retry.run(attempts, outcome.retryAt, outcome.error, event.id).changes === 0) continue;
      sql.hookAttemptFailed.run(0, outcome.error, at, event.hookId);
    }
  }
  return gaveUp;
}

export type SqliteOutboxConnection = { client: Database } | { path: string };

export class SqliteWebhookOutbox implements WebhookOutbox {
  private readonly db: Database;
  private readonly shared: boolean;
  /** The shared connection's own settings, restored after each recording. */
  private readonly sharedSettings: { synchronous: number; busyTimeoutMs: number } | null;
  private readonly sql: ReturnType<typeof statements>;
  private readonly recordOutcomes: (outcomes: DeliveryOutcome[]) => DeliveryOutcome[];

  constructor(connection: SqliteOutboxConnection) {
    this.shared = "client" in connection;
    this.db = "client" in connection ? connection.client : new Database(connection.path, { strict: true });
    if (!this.shared) {
      this.db.run("PRAGMA busy_timeout = 10");
      this.db.run("PRAGMA synchronous = NORMAL");
      this.db.run("PRAGMA foreign_keys = ON");
      // The checkpointer thread (and the main connection's fallback) checkpoint; never this one.
      this.db.run("PRAGMA wal_autocheckpoint = 0");
    }
    this.sharedSettings = this.shared
      ? {
          synchronous: this.db.query<{ synchronous: number }, []>("PRAGMA synchronous").get()!.synchronous,
          busyTimeoutMs: this.db.query<{ timeout: number }, []>("PRAGMA busy_timeout").get()!.timeout,
        }
      : null;
    this.sql = statements(this.db);
    this.recordOutcomes = this.db.transaction((outcomes: DeliveryOutcome[]) => recordIn(this.sql, outcomes));
  }

  hooks(): OutboxHook[] {
    return this.sql.hooks.all();
  }

  /** Events in flight are still due here (nothing is claimed), so it asks for enough to find `limit` others. */
  claimDue(hookId: string, limit: number, at: number, _leaseMs: number, sending: ReadonlySet<number>): OutboxEvent[] {
    const rows = this.sql.due.all(hookId, at, limit + sending.size);
    return rows.filter((r) => !sending.has(r.id)).slice(0, limit).map(eventOf);
  }

  claimNext(delivered: OutboxEvent): OutboxEvent | null {
    const row = this.sql.next.get(delivered.hookId, delivered.orderKey, delivered.id);
    return row ? eventOf(row) : null;
  }

  record(outcomes: DeliveryOutcome[]): DeliveryOutcome[] {
    const own = this.sharedSettings;
    if (own === null) return this.recordOutcomes(outcomes);
    // On the shared connection: no fsync for outcomes (the next message commit's fsync covers them
    // anyway) and a short wait for a lock held by another process, since this runs on the event loop.
    this.db.run("PRAGMA synchronous = NORMAL");
    this.db.run("PRAGMA busy_timeout = 10");
    try {
      return this.recordOutcomes(outcomes);
    } finally {
      this.db.run(`PRAGMA synchronous = ${own.synchronous}`);
      this.db.run(`PRAGMA busy_timeout = ${own.busyTimeoutMs}`);
    }
  }

  /** Nothing is claimed in the database: an event not sent stays due. */
  release(): void {}

  pending(): number {
    return this.sql.pending.get()?.n ?? 0;
  }

  /** Closes the connection if it is this outbox's own. */
  close(): void {
    if (!this.shared) this.db.close();
  }
}

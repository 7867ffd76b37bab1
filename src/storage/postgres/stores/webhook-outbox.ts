// WebhookOutbox over PostgreSQL, with several instances delivering from one outbox.
//
// A claim is a lease in the existing columns (no schema change): claiming a head sets its
// next_attempt_at to the database's clock + leaseMs, so it is no longer due for anyone else, and
// FOR UPDATE SKIP LOCKED keeps two claims from taking the same row at once. The lease value is also
// the claim's token: an outcome is recorded only while the row still carries it, so a worker that
// lost its lease (stalled past it) changes nothing and the new holder's outcome counts. A worker
// killed mid-delivery leaves the lease to run out; the event is then due again and another worker
// sends it with the same id (at least once).
//
// Order per (hook, key): only an event with no pending predecessor is ever claimed, whatever its
// next_attempt_at says, so a stale due time or a lease run out behind a pending event never
// overtakes it. "The oldest pending of its key" is `id = (SELECT min(p.id) ...)`: a correlated
// subquery is one probe of webhook_outbox_key per candidate, where a NOT EXISTS anti-join was
// planned as a scan of the hook's whole backlog per candidate (fresh table, no statistics). The
// next event of a key is claimed right after its predecessor's 2xx only while that predecessor
// still carries this worker's lease.
//
// Promotion race: a change that commits an event while its key's head is being recorded as
// delivered saw the head pending (so wrote NULL: waiting), and the recording did not see the new row
// (so promoted nothing). SQLite serializes the two; here a periodic repair makes such a row due.
import type { SQL } from "bun";
import type { DeliveryOutcome, OutboxEvent, OutboxHook, WebhookOutbox } from "../../../ports/webhook-outbox";
import type { PgDb } from "../client";

export interface PgWebhookOutboxOptions {
  /** How often a waiting row with no pending predecessor is made due (the promotion race above). */
  repairEveryMs?: number;
}

interface Row {
  id: string | number;
  hook_id: string;
  type: string;
  order_key: string;
  created_at: string | number;
  payload: string;
  attempts: number;
  next_attempt_at: string | number | null;
}

const eventOf = (r: Row): OutboxEvent => ({
  id: Number(r.id),
  hookId: r.hook_id,
  type: r.type,
  orderKey: r.order_key,
  createdAt: Number(r.created_at),
  payload: r.payload,
  attempts: r.attempts,
  leaseUntil: r.next_attempt_at === null ? null : Number(r.next_attempt_at),
});

export class PgWebhookOutbox implements WebhookOutbox {
  private readonly sql: SQL;
  private readonly repairEveryMs: number;
  private lastRepair = 0;

  constructor(db: PgDb, options: PgWebhookOutboxOptions = {}) {
    this.sql = db.$client;
    this.repairEveryMs = options.repairEveryMs ?? 5000;
  }

  async hooks(): Promise<OutboxHook[]> {
    return await this.sql`SELECT id, url, secret, concurrency FROM webhooks`;
  }

  // Events this worker is sending hold a lease, so they are not due: `sending` is not needed here.
  async claimDue(hookId: string, limit: number, _at: number, leaseMs: number, _sending?: ReadonlySet<number>): Promise<OutboxEvent[]> {
    if (limit <= 0) return [];
    if (Date.now() - this.lastRepair >= this.repairEveryMs) await this.repair();
    const rows: Row[] = await this.sql`
      WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms),
      heads AS (
        SELECT o.id FROM webhook_outbox o, clock
        WHERE o.hook_id = ${hookId} AND o.status = 'pending' AND o.next_attempt_at IS NOT NULL AND o.next_attempt_at <= clock.ms
          AND o.id = (SELECT min(p.id) FROM webhook_outbox p WHERE p.hook_id = o.hook_id AND p.order_key = o.order_key AND p.status = 'pending')
        ORDER BY o.next_attempt_at, o.id LIMIT ${limit}
        FOR UPDATE OF o SKIP LOCKED
      )
      UPDATE webhook_outbox w SET next_attempt_at = clock.ms + ${leaseMs}
      FROM heads, clock WHERE w.id = heads.id
      RETURNING w.id, w.hook_id, w.type, w.order_key, w.created_at, w.payload, w.attempts, w.next_attempt_at`;
    return rows.map(eventOf).sort((a, b) => a.id - b.id);
  }

  async claimNext(delivered: OutboxEvent, _at: number, leaseMs: number): Promise<OutboxEvent | null> {
    const rows: Row[] = await this.sql`
      WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms),
      next AS (
        SELECT o.id FROM webhook_outbox o
        WHERE o.hook_id = ${delivered.hookId} AND o.order_key = ${delivered.orderKey} AND o.status = 'pending' AND o.id > ${delivered.id}
        ORDER BY o.id LIMIT 1
        FOR UPDATE SKIP LOCKED
      )
      UPDATE webhook_outbox w SET next_attempt_at = clock.ms + ${leaseMs}
      FROM next, clock
      WHERE w.id = next.id AND (w.next_attempt_at IS NULL OR w.next_attempt_at <= clock.ms)
        -- Its one pending predecessor may be the delivered event, and only while it carries this worker's lease.
        AND w.id = (
          SELECT min(p.id) FROM webhook_outbox p
          WHERE p.hook_id = w.hook_id AND p.order_key = w.order_key AND p.status = 'pending' AND p.id <> ${delivered.id})
        AND NOT EXISTS (
          SELECT 1 FROM webhook_outbox d
          WHERE d.id = ${delivered.id} AND d.status = 'pending' AND d.next_attempt_at IS DISTINCT FROM ${delivered.leaseUntil})
      RETURNING w.id, w.hook_id, w.type, w.order_key, w.created_at, w.payload, w.attempts, w.next_attempt_at`;
    return rows[0] ? eventOf(rows[0]) : null;
  }

  async record(outcomes: DeliveryOutcome[]): Promise<DeliveryOutcome[]> {
    // Hooks' rows are updated in one order in every instance, so two batches never deadlock.
    const ordered = [...outcomes].sort((a, b) => (a.event.hookId < b.event.hookId ? -1 : a.event.hookId > b.event.hookId ? 1 : a.event.id - b.event.id));
    return await this.sql.begin(async (tx) => {
      const gaveUp: DeliveryOutcome[] = [];
      for (const outcome of ordered) {
        const { event, at } = outcome;
        // Each statement applies only while the row still carries this claim's lease.
        if (outcome.error === null) {
          const [gone] = await tx`DELETE FROM webhook_outbox WHERE id = ${event.id} AND status = 'pending' AND next_attempt_at = ${event.leaseUntil} RETURNING id`;
          if (!gone) continue; // the hook was removed, or the lease was lost to another worker
          await tx`UPDATE webhooks SET delivered_count = delivered_count + 1, last_delivered_at = ${at} WHERE id = ${event.hookId}`;
          await promote(tx, event);
          continue;
        }
        const attempts = event.attempts + 1;
        const failed = outcome.retryAt === null;
        const [kept] = failed
          ? await tx`UPDATE webhook_outbox SET attempts = ${attempts}, next_attempt_at = NULL, last_error = ${outcome.error}, status = 'failed' WHERE id = ${event.id} AND status = 'pending' AND next_attempt_at = ${event.leaseUntil} RETURNING id`
          : await tx`UPDATE webhook_outbox SET attempts = ${attempts}, next_attempt_at = ${outcome.retryAt}, last_error = ${outcome.error} WHERE id = ${event.id} AND status = 'pending' AND next_attempt_at = ${event.leaseUntil} RETURNING id`;
        if (!kept) continue;
        await tx`
          UPDATE webhooks SET attempt_failures = attempt_failures + 1, failed_count = failed_count + ${failed ? 1 : 0},
            last_error = ${outcome.error}, last_error_at = ${at}
          WHERE id = ${event.hookId}`;
        if (failed) {
          await promote(tx, event);
          gaveUp.push(outcome);
        }
      }
      return gaveUp;
    });
  }

  /** Due at once, or waiting again (NULL) behind a predecessor still pending. */
  async release(events: OutboxEvent[]): Promise<void> {
    for (const event of events) {
      await this.sql`
        UPDATE webhook_outbox w SET next_attempt_at = CASE WHEN w.id = (SELECT min(p.id) FROM webhook_outbox p WHERE p.hook_id = w.hook_id AND p.order_key = w.order_key AND p.status = 'pending') THEN 0 ELSE NULL END
        WHERE w.id = ${event.id} AND w.status = 'pending' AND w.next_attempt_at = ${event.leaseUntil}`;
    }
  }

  async pending(): Promise<number> {
    const [row] = await this.sql`SELECT count(*) AS n FROM webhook_outbox WHERE status = 'pending'`;
    return Number(row.n);
  }

  /** Makes due every waiting row whose predecessors are all delivered or failed (see the header). */
  async repair(): Promise<number> {
    this.lastRepair = Date.now();
    const rows = await this.sql`
      UPDATE webhook_outbox o SET next_attempt_at = 0
      WHERE o.status = 'pending' AND o.next_attempt_at IS NULL AND o.id = (SELECT min(p.id) FROM webhook_outbox p WHERE p.hook_id = o.hook_id AND p.order_key = o.order_key AND p.status = 'pending')
      RETURNING o.id`;
    return rows.length;
  }
}

/** The key's next event becomes due once its predecessor is delivered or given up on. */
async function promote(tx: SQL, event: OutboxEvent): Promise<void> {
  await tx`
    UPDATE webhook_outbox SET next_attempt_at = 0 WHERE id = (
      SELECT id FROM webhook_outbox WHERE hook_id = ${event.hookId} AND order_key = ${event.orderKey} AND status = 'pending' ORDER BY id LIMIT 1
    ) AND next_attempt_at IS NULL`;
}

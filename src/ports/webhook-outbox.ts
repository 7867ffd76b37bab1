// The webhook outbox port: what the delivery worker (modules/webhooks/worker.ts) needs from the
// outbox the triggers fill in the change's transaction. The worker decides when to send and when to
// give up; the adapter decides which events are due and who may send them. SQLite (one process)
// returns values; PostgreSQL (several instances over one outbox) returns promises and claims
// events under a lease, so only one instance sends an event at a time.
import type { Awaitable } from "./stores";

/** A registered hook as the worker sends to it. */
export interface OutboxHook {
  id: string;
  url: string;
  secret: string;
  /** Deliveries of this hook in flight at once (per instance). */
  concurrency: number;
}

/** One event to send: its id is the stable event id receivers deduplicate on. */
export interface OutboxEvent {
  id: number;
  hookId: string;
  type: string;
  /** Events of one key (a conversation, or "user:<id>") are sent in id order. */
  orderKey: string;
  createdAt: number;
  /** The event's `data` as JSON text. */
  payload: string;
  /** Failed attempts so far. */
  attempts: number;
  /** Until when this worker holds the event, where the adapter leases (null: the adapter does not). */
  leaseUntil: number | null;
}

/** What became of one attempt. */
export type DeliveryOutcome =
  | { event: OutboxEvent; at: number; error: null }
  /** `retryAt` null: the retry window is over and the event is kept as failed. */
  | { event: OutboxEvent; at: number; error: string; retryAt: number | null };

export interface WebhookOutbox {
  /** Every registered hook, read each round so hooks added or removed while running apply at once. */
  hooks(): Awaitable<OutboxHook[]>;
  /**
   * Up to `limit` events of the hook due now and not in `sending` (this worker's own, in flight),
   * oldest due first: only heads (the oldest undelivered event of their key). An adapter that leases
   * claims them for `leaseMs`, so no other worker gets them meanwhile.
   */
  claimDue(hookId: string, limit: number, at: number, leaseMs: number, sending: ReadonlySet<number>): Awaitable<OutboxEvent[]>;
  /**
   * The event after `delivered` in its key, claimed like claimDue, sent as soon as `delivered` got
   * its 2xx and before that outcome is recorded (one event-loop turn per delivery); null when none
   * or another worker holds it.
   */
  claimNext(delivered: OutboxEvent, at: number, leaseMs: number): Awaitable<OutboxEvent | null>;
  /**
   * Records a batch of outcomes atomically: a delivered event is removed and counted on its hook and
   * its key's next event becomes due; a failed attempt is scheduled or kept as failed. Outcomes of
   * events gone meanwhile (hook removed, lease lost to another worker) change nothing. Returns the
   * outcomes that kept an event as failed.
   */
  record(outcomes: DeliveryOutcome[]): Awaitable<DeliveryOutcome[]>;
  /** Gives back events claimed but not sent (stopping): another worker may take them at once. */
  release(events: OutboxEvent[]): Awaitable<void>;
  /** Events waiting for delivery, including retries, over every hook. */
  pending(): Awaitable<number>;
}

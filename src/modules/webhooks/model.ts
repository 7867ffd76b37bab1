// The webhook events and the shapes `webhook add|list` print; payloads are built by the outbox
// triggers (drizzle/0004_webhooks.sql) and documented in the README's Webhooks section.

export const WEBHOOK_EVENTS = [
  "message.created",
  "message.updated",
  "message.deleted",
  "reaction.changed",
  "member.added",
  "member.removed",
  "conversation.updated",
  "user.created",
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** A hook as `webhook list --json` prints it (the secret is only ever shown by `add`). */
export interface WebhookSummary {
  id: string;
  url: string;
  events: WebhookEvent[];
  conversation_id: string | null;
  concurrency: number;
  created_at: string;
  delivered: number;
  /** Events given up on after 24 h of retries. */
  failed: number;
  /** Events waiting for delivery (including those being retried). */
  pending: number;
  /** Attempts that failed (each retry counts). */
  failed_attempts: number;
  last_error: string | null;
  last_error_at: string | null;
  last_delivered_at: string | null;
}

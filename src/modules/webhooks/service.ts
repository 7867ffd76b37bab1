// Webhook administration on the database (used by `chat-server webhook`): add with a fresh secret,
// list with delivery counts, remove with its undelivered events. The running server's delivery
// worker reads the webhooks table every round, so changes take effect without a restart.
import { isoOrNull, iso, now } from "../../lib/time";
import { andThen, type Awaitable, type Storage } from "../../ports/stores";
import { checkTarget, parseTarget, TargetRefused } from "./address";
import { WEBHOOK_EVENTS, type WebhookEvent, type WebhookSummary } from "./model";

export class WebhookInputError extends Error {}

export interface AddWebhookInput {
  url: string;
  /** Comma-separated event names, or "all". */
  events: string;
  conversationId?: string | null;
  concurrency?: number;
  allowPrivate: boolean;
}

/** The event names of a comma list ("all" is every event), or WebhookInputError naming the unknown one. */
export function parseEvents(raw: string): WebhookEvent[] {
  const names = raw.split(",").map((s) => s.trim()).filter(Boolean);
  if (names.length === 1 && names[0] === "all") return [...WEBHOOK_EVENTS];
  if (names.length === 0) throw new WebhookInputError(`--events needs at least one of: ${WEBHOOK_EVENTS.join(", ")} (or all)`);
  for (const name of names) {
    if (!(WEBHOOK_EVENTS as readonly string[]).includes(name)) throw new WebhookInputError(`--events: unknown event "${name}" (known: ${WEBHOOK_EVENTS.join(", ")}, or all)`);
  }
  return [...new Set(names)] as WebhookEvent[];
}

const newSecret = () => "whsec_" + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");

/** Registers a hook; the returned secret is never shown again. */
export async function addWebhook({ stores }: Storage, input: AddWebhookInput): Promise<{ id: string; secret: string; url: string; events: WebhookEvent[] }> {
  const events = parseEvents(input.events);
  let url: URL;
  try {
    url = parseTarget(input.url);
    await checkTarget(url, input.allowPrivate);
  } catch (error) {
    if (error instanceof TargetRefused) throw new WebhookInputError(`--url: ${error.message}`);
    throw error;
  }
  if (input.conversationId && !(await stores.conversations.exists(input.conversationId))) {
    throw new WebhookInputError(`--conversation: no conversation with id "${input.conversationId}"`);
  }
  const id = Bun.randomUUIDv7();
  const secret = newSecret();
  await stores.webhooks.insert({
    id,
    url: url.href,
    events: `,${events.join(",")},`,
    conversationId: input.conversationId ?? null,
    secret,
    concurrency: input.concurrency ?? 4,
    createdAt: now(),
  });
  return { id, secret, url: url.href, events };
}

export function listWebhooks({ stores }: Storage): Awaitable<WebhookSummary[]> {
  return andThen(stores.webhooks.list(), (hooks) => hooks.map((h) => ({
    id: h.id,
    url: h.url,
    events: h.events.split(",").filter(Boolean) as WebhookEvent[],
    conversation_id: h.conversationId,
    concurrency: h.concurrency,
    created_at: iso(h.createdAt),
    delivered: h.deliveredCount,
    failed: h.failedCount,
    pending: h.pending,
    failed_attempts: h.attemptFailures,
    last_error: h.lastError,
    last_error_at: isoOrNull(h.lastErrorAt),
    last_delivered_at: isoOrNull(h.lastDeliveredAt),
  })));
}

/** Removes the hook and every event not yet delivered to it; false when there was no such hook. */
export const removeWebhook = ({ stores }: Storage, id: string): Awaitable<boolean> => stores.webhooks.remove(id);

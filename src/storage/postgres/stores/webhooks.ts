// WebhookStore over PostgreSQL (administration; deliveries are the worker's).
import { asc, count, eq } from "drizzle-orm";
import type { WebhookRow, WebhookStore } from "../../../ports/stores";
import { webhookOutbox, webhooks } from "../schema";
import { byteOrder, stripNul, type PgHandle } from "./common";

export class PgWebhookStore implements WebhookStore {
  constructor(private readonly db: PgHandle) {}

  async insert(row: Pick<WebhookRow, "id" | "url" | "events" | "conversationId" | "secret" | "concurrency" | "createdAt">): Promise<void> {
    await this.db.insert(webhooks).values(stripNul(row));
  }

  async list(): Promise<(WebhookRow & { pending: number })[]> {
    const pendingRows = await this.db
      .select({ hookId: webhookOutbox.hookId, n: count() })
      .from(webhookOutbox)
      .where(eq(webhookOutbox.status, "pending"))
      .groupBy(webhookOutbox.hookId);
    const pending = new Map(pendingRows.map((r) => [r.hookId, r.n]));
    const hooks = await this.db.select().from(webhooks).orderBy(asc(webhooks.createdAt), byteOrder(webhooks.id));
    return hooks.map((h) => ({ ...h, pending: pending.get(h.id) ?? 0 }));
  }

  async remove(id: string): Promise<boolean> {
    // The outbox rows go with the hook (ON DELETE CASCADE), in the same statement.
    const removed = await this.db.delete(webhooks).where(eq(webhooks.id, stripNul(id))).returning({ id: webhooks.id });
    return removed.length > 0;
  }
}

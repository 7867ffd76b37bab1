// WebhookStore over SQLite (administration; deliveries run in modules/webhooks/worker.ts on their own connection).
import { count, eq } from "drizzle-orm";
import type { WebhookRow, WebhookStore } from "../../ports/stores";
import type { Db } from "../client";
import { webhookOutbox, webhooks } from "../schema";

export class SqliteWebhookStore implements WebhookStore {
  constructor(private readonly db: Db) {}

  insert(row: Pick<WebhookRow, "id" | "url" | "events" | "conversationId" | "secret" | "concurrency" | "createdAt">): void {
    this.db.insert(webhooks).values(row).run();
  }

  list(): (WebhookRow & { pending: number })[] {
    const pending = new Map(
      this.db
        .select({ hookId: webhookOutbox.hookId, n: count() })
        .from(webhookOutbox)
        .where(eq(webhookOutbox.status, "pending"))
        .groupBy(webhookOutbox.hookId)
        .all()
        .map((r) => [r.hookId, r.n]),
    );
    return this.db
      .select()
      .from(webhooks)
      .orderBy(webhooks.createdAt)
      .all()
      .map((h) => ({ ...h, pending: pending.get(h.id) ?? 0 }));
  }

  remove(id: string): boolean {
    return this.db.transaction((tx) => {
      tx.delete(webhookOutbox).where(eq(webhookOutbox.hookId, id)).run();
      return tx.delete(webhooks).where(eq(webhooks.id, id)).returning({ id: webhooks.id }).all().length > 0;
    });
  }
}

// The hooks as `webhook list` reports them, read through the service on a server's connection.
import type { Db } from "../../src/db/client";
import { sqliteStorage } from "../../src/db/stores";
import type { WebhookSummary } from "../../src/modules/webhooks/model";
import { listWebhooks } from "../../src/modules/webhooks/service";

/** Synchronous: the SQLite store answers at once, so polling loops can call it. */
export const hooksOf = (db: Db) => listWebhooks(sqliteStorage(db)) as WebhookSummary[];

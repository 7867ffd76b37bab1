// One webhook worker on PostgreSQL in a process of its own, for tests that kill it mid-delivery:
// `bun test/postgres/webhook-worker-process.ts <database url> <lease ms>`; prints "ready" once running.
import { silentLogger } from "../../src/lib/logger";
import { createWebhookWorker } from "../../src/modules/webhooks/worker";
import { openPostgres } from "../../src/storage/postgres/client";
import { PgWebhookOutbox } from "../../src/storage/postgres/stores/webhook-outbox";

const [url, leaseMs] = process.argv.slice(2);
const db = openPostgres(url!, { max: 2 });
createWebhookWorker({
  outbox: new PgWebhookOutbox(db),
  allowPrivate: true,
  timeoutMs: 60_000,
  leaseMs: Number(leaseMs),
  log: silentLogger,
  pollMs: 20,
  // The tests' hook names resolve to the local receiver.
  lookup: async () => ["127.0.0.1"],
});
console.log("ready");

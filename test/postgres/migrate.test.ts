// The PostgreSQL migrations (drizzle-pg/, embedded) on a real server: two instances starting at once
// migrate once (advisory lock), a restart applies nothing, a database from a newer binary is refused.
import { describe, expect, test } from "bun:test";
import { openPostgres } from "../../src/storage/postgres/client";
import { runPgMigrations } from "../../src/storage/postgres/migrate";
import { embeddedMigrations } from "../../src/storage/postgres/migrations.generated";
import { postgresMissing, sharedPostgres } from "../support/postgres";

const postgres = sharedPostgres();

describe.skipIf(postgresMissing !== null)("PostgreSQL migrations", () => {
  test("two instances migrating the same new database at once apply each migration exactly once", async () => {
    const url = await (await postgres()).createDatabase();
    const a = openPostgres(url);
    const b = openPostgres(url);
    try {
      const applied = await Promise.all([runPgMigrations(a), runPgMigrations(b)]);
      expect(applied.sort()).toEqual([0, embeddedMigrations.length]);
      const rows = await a.$client`SELECT created_at FROM drizzle.__drizzle_migrations ORDER BY id`;
      expect(rows.map((r: { created_at: string }) => Number(r.created_at))).toEqual(embeddedMigrations.map((m) => m.when));
      const tables = await a.$client`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`;
      expect(tables.map((r: { table_name: string }) => r.table_name)).toEqual([
        "api_tokens", "attachments", "blocks", "conversations", "members", "message_attachments",
        "messages", "reactions", "users", "webhook_outbox", "webhooks",
      ]);
      // A restart finds everything applied.
      expect(await runPgMigrations(a)).toBe(0);
    } finally {
      await Promise.all([a.$client.close(), b.$client.close()]);
    }
  });

  test("a database migrated by a newer binary is refused, naming the unknown migration", async () => {
    const url = await (await postgres()).createDatabase();
    const db = openPostgres(url);
    try {
      await runPgMigrations(db);
      await db.$client`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('feedfacefeedface', 4102444800000)`;
      await expect(runPgMigrations(db)).rejects.toThrow(/1 migration\(s\) this binary .* does not know: created_at 4102444800000/);
    } finally {
      await db.$client.close();
    }
  });
});

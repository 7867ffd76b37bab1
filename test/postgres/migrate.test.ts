// The PostgreSQL migrations (drizzle-pg/, embedded) on a real server: two instances starting at once
// migrate once (advisory lock), a restart applies nothing, a database from a newer binary is refused.
import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../src/config";
import { openPostgresStorage } from "../../src/storage/postgres";
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

describe.skipIf(postgresMissing !== null)("opening the PostgreSQL storage at start", () => {
  test("migrates a new database once, then applies nothing on the next start", async () => {
    const url = await (await postgres()).createDatabase();
    const first = await openPostgresStorage(url);
    await first.close();
    const second = await openPostgresStorage(url);
    try {
      expect([first.migrated, second.migrated]).toEqual([embeddedMigrations.length, 0]);
    } finally {
      await second.close();
    }
  });

  test("a server that does not answer, or a database that does not exist, stops the start with a ConfigError naming the URL without its password", async () => {
    const pg = await postgres();
    const missing = pg.url("no_such_database").replace("postgres@", "postgres:hunter2@");
    const error = await openPostgresStorage(missing).catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain("cannot connect to the database postgres://postgres:***@127.0.0.1:");
    expect(error.message).not.toContain("hunter2");
    const refused = await openPostgresStorage("postgres://postgres@127.0.0.1:1/chat").catch((e) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect(refused.message).toContain("cannot connect to the database postgres://postgres@127.0.0.1:1/chat");
  });
});

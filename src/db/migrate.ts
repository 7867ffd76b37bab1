// Applies drizzle-kit's migrations from the copies embedded in the binary, never from disk.
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import type { MigrationMeta } from "drizzle-orm/migrator";
import { embeddedMigrations } from "./migrations.generated";

export function embeddedMigrationMeta(): MigrationMeta[] {
  return embeddedMigrations.map((m) => ({
    sql: m.sql.split("--> statement-breakpoint"),
    bps: m.breakpoints,
    folderMillis: m.when,
    // Same hash drizzle's own folder reader computes, so either can migrate the same database.
    hash: new Bun.CryptoHasher("sha256").update(m.sql).digest("hex"),
  }));
}

function lastApplied(client: import("bun:sqlite").Database): number {
  try {
    const row = client.query("SELECT max(created_at) AS at FROM __drizzle_migrations").get() as { at: number | null };
    return Number(row.at ?? 0);
  } catch {
    return 0; // no migrations table yet
  }
}

/** Runs pending migrations; returns how many were applied. */
export function runMigrations(db: BunSQLiteDatabase<any>): number {
  const client = (db as any).$client as import("bun:sqlite").Database;
  const countApplied = () => {
    try {
      return (client.query("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number }).n;
    } catch {
      return 0;
    }
  };
  // Drizzle applies the migrations newer than the last recorded one; when that is already the
  // newest embedded migration (every start but the first after an upgrade), skip its hashing and
  // transaction altogether.
  const newest = embeddedMigrations.at(-1)?.when ?? 0;
  if (lastApplied(client) >= newest) return 0;
  const before = countApplied();
  const migrations = embeddedMigrationMeta();
  (db as any).dialect.migrate(migrations, (db as any).session, {});
  return countApplied() - before;
}

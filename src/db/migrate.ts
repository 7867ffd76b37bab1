// Applies drizzle-kit's migrations from the copies embedded in the binary, never from disk.
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import type { MigrationMeta } from "drizzle-orm/migrator";
import { ConfigError } from "../config";
import { VERSION } from "../version";
import { embeddedMigrations } from "./migrations.generated";

type EmbeddedMigration = (typeof embeddedMigrations)[number];

/** `list`: SQLite's embedded migrations, or PostgreSQL's (storage/postgres/migrate.ts). */
export function embeddedMigrationMeta(list: EmbeddedMigration[] = embeddedMigrations): MigrationMeta[] {
  return list.map((m) => ({
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

/**
 * Refuses a database migrated by a newer binary (found after rolling back to an older one): drizzle
 * would see its newest migration as applied and serve a schema this code does not know. Compares the
 * recorded timestamps with the embedded ones, without hashing anything, so every start stays cheap.
 */
export function assertNoUnknownMigrations(client: import("bun:sqlite").Database, path = "the database"): void {
  let rows: { hash: string; created_at: number }[];
  try {
    rows = client.query("SELECT hash, created_at FROM __drizzle_migrations ORDER BY created_at").all() as typeof rows;
  } catch {
    return; // no migrations table yet: a new database
  }
  const error = unknownMigrationsError(rows, embeddedMigrations, path);
  if (error) throw error;
}

/** The refusal of a database that recorded migrations `list` does not have, or null. */
export function unknownMigrationsError(rows: { hash: string; created_at: number | string }[], list: EmbeddedMigration[], path: string): ConfigError | null {
  const known = new Set(list.map((m) => m.when));
  const unknown = rows.filter((r) => !known.has(Number(r.created_at)));
  if (!unknown.length) return null;
  const described = unknown.map((r) => `created_at ${r.created_at} (${new Date(Number(r.created_at)).toISOString()}), hash ${String(r.hash).slice(0, 12)}`).join("; ");
  const newest = list.at(-1);
  return new ConfigError(
    `${path} has ${unknown.length} migration(s) this binary (${VERSION}) does not know: ${described}. ` +
      `It was migrated by a newer chat-server: run that newer binary (or restore a backup taken before the upgrade). ` +
      `This binary's newest migration is ${newest?.tag ?? "none"} (created_at ${newest?.when ?? 0}).`,
  );
}

/** Runs pending migrations; returns how many were applied. Throws on a database from a newer binary. */
export function runMigrations(db: BunSQLiteDatabase<any>, path?: string): number {
  const client = (db as any).$client as import("bun:sqlite").Database;
  assertNoUnknownMigrations(client, path);
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

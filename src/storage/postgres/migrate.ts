// Applies drizzle-pg/'s migrations, embedded in the binary, to PostgreSQL. Everything happens in one
// transaction holding an advisory lock: instances starting together wait for each other, and the
// second finds the first one's migrations recorded and applies none. The bookkeeping table is
// drizzle's own (drizzle.__drizzle_migrations, same hash and created_at), so `drizzle-kit migrate`
// and this code agree on what is applied.
import { embeddedMigrationMeta, unknownMigrationsError } from "../../db/migrate";
import type { PgDb } from "./client";
import { embeddedMigrations } from "./migrations.generated";

/** pg_advisory_xact_lock(key1, key2): "chat" and 1, a pair no other application should pick by accident. */
const LOCK = [0x63686174, 1] as const;

/** Runs pending migrations; returns how many were applied. Throws on a database from a newer binary. */
export async function runPgMigrations(db: PgDb, path = "the PostgreSQL database"): Promise<number> {
  return db.$client.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${LOCK[0]}::int4, ${LOCK[1]}::int4)`;
    await tx.unsafe("CREATE SCHEMA IF NOT EXISTS drizzle");
    await tx.unsafe("CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)");
    const rows: { hash: string; created_at: string }[] = await tx`SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY created_at`;
    const error = unknownMigrationsError(rows, embeddedMigrations, path);
    if (error) throw error;
    const last = rows.reduce((max, r) => Math.max(max, Number(r.created_at)), 0);
    let applied = 0;
    for (const m of embeddedMigrationMeta(embeddedMigrations)) {
      if (m.folderMillis <= last) continue;
      for (const statement of m.sql) if (statement.trim()) await tx.unsafe(statement);
      await tx`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (${m.hash}, ${m.folderMillis})`;
      applied++;
    }
    return applied;
  });
}

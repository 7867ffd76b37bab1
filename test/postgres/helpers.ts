// A migrated PostgreSQL database per test, with users and conversations seeded through Drizzle.
import { afterAll } from "bun:test";
import { openPostgres, type PgDb } from "../../src/storage/postgres/client";
import { runPgMigrations } from "../../src/storage/postgres/migrate";
import { conversations, users } from "../../src/storage/postgres/schema";
import { sharedPostgres } from "../support/postgres";

/** `migratedDatabase()` gives a fresh migrated database and a way to open more connections to it. */
export function pgDatabases() {
  const postgres = sharedPostgres();
  const open: PgDb[] = [];
  afterAll(() => Promise.all(open.map((db) => db.$client.close())));
  return async () => {
    const url = await (await postgres()).createDatabase();
    const connect = (max = 4) => {
      const db = openPostgres(url, { max });
      open.push(db);
      return db;
    };
    const db = connect();
    await runPgMigrations(db);
    return { url, db, connect };
  };
}

export async function seedUsers(db: PgDb, ...names: string[]): Promise<string[]> {
  const at = Date.now();
  const rows = names.map((name) => ({
    id: `u-${name}`,
    username: name,
    usernameKey: name.toLowerCase(),
    email: `${name}@example.com`,
    emailKey: `${name.toLowerCase()}@example.com`,
    passwordHash: "x",
    createdAt: at,
    updatedAt: at,
  }));
  await db.insert(users).values(rows);
  return rows.map((r) => r.id);
}

export async function seedConversation(db: PgDb, id: string, createdBy: string): Promise<string> {
  const at = Date.now();
  await db.insert(conversations).values({ id, name: id, isGroup: true, createdBy, lastActivityAt: at, createdAt: at, updatedAt: at });
  return id;
}

// Opens PostgreSQL (--database-url) through Drizzle on Bun's built-in client (drizzle-orm/bun-sql
// over Bun.sql): a pool of connections, opened lazily. Int8 columns arrive as strings from Bun.sql;
// the schema's bigint({mode:"number"}) turns them into numbers, raw SQL converts with Number().
import { SQL } from "bun";
import { drizzle, type BunSQLDatabase } from "drizzle-orm/bun-sql";
import { ConfigError } from "../../config";
import * as schema from "./schema";

export type PgDb = BunSQLDatabase<typeof schema> & { $client: SQL };

export interface PgOptions {
  /** Connections in the pool (default 10). */
  max?: number;
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(an unparseable URL)";
  }
}

export function openPostgres(url: string, options: PgOptions = {}): PgDb {
  const client = new SQL(url, { max: options.max ?? 10, idleTimeout: 60, connectionTimeout: 10 });
  return drizzle({ client, schema }) as PgDb;
}

/** Connects once, so a wrong URL, password or a server that is down stops the start with exit 2. */
export async function checkConnection(db: PgDb, url: string): Promise<void> {
  try {
    await db.$client`SELECT 1`;
  } catch (error) {
    const cause = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`cannot connect to the database ${redactUrl(url)} (--database-url / CHAT_DATABASE_URL): ${cause}`);
  }
}

// What every PostgreSQL store shares: the handle they query through (the pool, or a transaction
// when a revision's change runs), U+0000 stripping, and LIKE/ordering helpers that give SQLite's
// byte-order semantics whatever the database's locale.
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { sql, type SQL, type SQLWrapper } from "drizzle-orm";
import type * as schema from "../schema";

/** The pool or a transaction: stores built on a transaction run inside it. */
export type PgHandle = PgDatabase<PgQueryResultHKT, typeof schema>;

const NUL = /\u0000/g;

/**
 * PostgreSQL text cannot hold U+0000 (SQLite's can), so every string entering a store loses it:
 * stripped, not rejected, so no write fails on it and a lookup matches what was written. Names,
 * bios and keys are the only strings here; the message commit handles content on its own.
 */
export function stripNul<T>(value: T): T {
  if (typeof value === "string") return (value.includes("\u0000") ? value.replace(NUL, "") : value) as T;
  if (Array.isArray(value)) return value.map(stripNul) as T;
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stripNul(v)])) as T;
  }
  return value;
}

/** Escapes LIKE wildcards so a search for "a_b" means exactly that. */
export const likePrefix = (q: string) => q.replace(/[\\%_]/g, (c) => "\\" + c) + "%";

/**
 * The column in byte order (SQLite's BINARY), whatever the database's default collation: the
 * expression the C-collation indexes of drizzle-pg/0003 are built on, so LIKE prefixes and ORDER BY
 * both use them.
 */
export const byteOrder = (column: SQLWrapper): SQL => sql`(${column} COLLATE "C")`;

/** Rows of a raw query (db.execute) as plain objects. */
export async function rowsOf<T>(db: PgHandle, query: SQL): Promise<T[]> {
  return (await db.execute(query)) as unknown as T[];
}

/** A list of values for IN (...). */
export const listOf = (values: (string | number)[]): SQL => sql.join(values.map((v) => sql`${v}`), sql`, `);

/** Int8 and numeric values arrive as strings from Bun.sql. */
export const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

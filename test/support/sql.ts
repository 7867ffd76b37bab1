// Plain SQL against a test server's database, whichever the engine: `?` placeholders (rewritten to
// $1, $2… for PostgreSQL), numbers back as numbers (PostgreSQL's count(*) is a bigint string).
// For tests that look at or change rows the API does not show; write SQL both engines accept.
import type { TestServer } from "./server";

type Param = string | number | boolean | null;

const numbered = (sql: string) => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

/** The rows the statement returns. */
export async function sqlRows(server: TestServer, sql: string, ...params: Param[]): Promise<Record<string, unknown>[]> {
  if (server.pg) {
    const rows = (await server.pg.$client.unsafe(numbered(sql), params)) as Record<string, unknown>[];
    return rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v])));
  }
  return server.db.$client.query<Record<string, unknown>, Param[]>(sql).all(...params);
}

/** The first column of the first row as a number (a count). */
export async function sqlNumber(server: TestServer, sql: string, ...params: Param[]): Promise<number> {
  const [row] = await sqlRows(server, sql, ...params);
  return Number(Object.values(row ?? {})[0]);
}

/** Runs a statement that returns nothing. */
export async function sqlRun(server: TestServer, sql: string, ...params: Param[]): Promise<void> {
  await sqlRows(server, sql, ...params);
}

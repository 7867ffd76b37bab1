// src/storage/postgres/schema.ts stays the twin of src/db/schema.ts: the same tables, columns (with
// comparable types, nullability, defaults, keys), indexes (columns, uniqueness, partial WHERE) and
// foreign keys, compared through Drizzle's own table configs. A column or index added to one schema
// and not the other fails here. (The search index and the webhook triggers are hand-written SQL on
// both sides and are tested by test/postgres/triggers.test.ts.)
import { describe, expect, test } from "bun:test";
import { getTableName, is, type SQL } from "drizzle-orm";
import { getTableConfig as pgConfig, PgTable } from "drizzle-orm/pg-core";
import { getTableConfig as sqliteConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import * as sqlite from "../../src/db/schema";
import * as pg from "../../src/storage/postgres/schema";

type AnyConfig = ReturnType<typeof pgConfig> | ReturnType<typeof sqliteConfig>;

const sqlText = (where: SQL | undefined) =>
  where ? where.queryChunks.map((c) => ((c as { value?: string[] }).value ?? []).join("")).join("").trim() : null;

/** SQLite integer ~ PostgreSQL integer or bigint; SQLite's boolean-mode integer ~ boolean. */
function kind(column: AnyConfig["columns"][number]): string {
  const type = column.getSQLType();
  if (column.columnType === "SQLiteBoolean" || type === "boolean") return "boolean";
  if (type === "integer" || type === "bigint") return "integer";
  return type;
}

function describeTable(config: AnyConfig) {
  return {
    name: config.name,
    columns: Object.fromEntries(
      config.columns.map((c) => [
        c.name,
        {
          kind: kind(c),
          notNull: c.notNull,
          primary: c.primary,
          default: c.default === undefined ? null : c.default,
          // SQLite's AUTOINCREMENT and PostgreSQL's identity: ids never reused.
          generated: Boolean((c as { autoIncrement?: boolean }).autoIncrement || (c as { generatedIdentity?: unknown }).generatedIdentity),
        },
      ]),
    ),
    primaryKeys: config.primaryKeys.map((k) => k.columns.map((c) => c.name)),
    indexes: config.indexes
      .map((i) => ({
        name: i.config.name,
        unique: i.config.unique,
        columns: i.config.columns.map((c) => (c as { name: string }).name),
        where: sqlText(i.config.where),
      }))
      .sort((a, b) => a.name!.localeCompare(b.name!)),
    foreignKeys: config.foreignKeys
      .map((fk) => {
        const ref = fk.reference();
        return {
          columns: ref.columns.map((c) => c.name),
          table: getTableName(ref.foreignTable),
          foreignColumns: ref.foreignColumns.map((c) => c.name),
          onDelete: fk.onDelete ?? "no action",
        };
      })
      .sort((a, b) => a.columns.join().localeCompare(b.columns.join())),
    uniqueConstraints: config.uniqueConstraints.map((u) => u.columns.map((c) => c.name)),
  };
}

const sqliteTables = Object.entries(sqlite).filter(([, v]) => is(v, SQLiteTable)) as [string, SQLiteTable][];
const pgTables = Object.entries(pg).filter(([, v]) => is(v, PgTable)) as [string, PgTable][];

describe("the PostgreSQL schema is equivalent to the SQLite schema", () => {
  test("the same tables, exported under the same names", () => {
    expect(sqliteTables.length).toBeGreaterThan(10);
    expect(pgTables.map(([k, t]) => [k, pgConfig(t).name]).sort()).toEqual(sqliteTables.map(([k, t]) => [k, sqliteConfig(t).name]).sort());
  });

  for (const [key, table] of sqliteTables) {
    test(`${sqliteConfig(table).name}: columns, keys, indexes and foreign keys match`, () => {
      const twin = pg[key as keyof typeof pg] as PgTable;
      expect(describeTable(pgConfig(twin))).toEqual(describeTable(sqliteConfig(table)));
    });
  }

  test("PostgreSQL times (every *_at and *_until column) and sizes are bigint: Unix milliseconds do not fit in int4", () => {
    for (const [, table] of pgTables) {
      for (const column of pgConfig(table).columns) {
        if (/_(at|until)$/.test(column.name) || column.name === "size") expect(`${column.name}: ${column.getSQLType()}`).toBe(`${column.name}: bigint`);
      }
    }
  });

  test("the comparison sees differences (a changed column, a missing index)", () => {
    const messages = describeTable(sqliteConfig(sqlite.messages));
    const users = describeTable(sqliteConfig(sqlite.users));
    expect(describeTable(pgConfig(pg.messages))).not.toEqual(users);
    expect({ ...messages, indexes: messages.indexes.slice(1) }).not.toEqual(describeTable(pgConfig(pg.messages)));
    expect(describeTable(pgConfig(pg.messages)).columns.seq).toEqual({ kind: "integer", notNull: true, primary: false, default: null, generated: false });
  });
});

// The migrations embedded in the binary are exactly drizzle/ (journal order, SQL byte for byte),
// and drizzle's own folder reader would apply the same list. scripts/check-migrations.sh covers
// the other half: drizzle/ in step with src/db/schema.ts.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { embeddedMigrationMeta } from "../src/db/migrate";
import { embeddedMigrations } from "../src/db/migrations.generated";

const root = join(import.meta.dir, "..");
const journal = JSON.parse(readFileSync(join(root, "drizzle/meta/_journal.json"), "utf8")) as {
  entries: { idx: number; tag: string; when: number; breakpoints: boolean }[];
};

test("src/db/migrations.generated.ts lists exactly drizzle/meta/_journal.json's entries, in order", () => {
  expect(journal.entries.length).toBeGreaterThan(0);
  expect(embeddedMigrations.map(({ tag, when, breakpoints }) => ({ tag, when, breakpoints }))).toEqual(
    journal.entries.map(({ tag, when, breakpoints }) => ({ tag, when, breakpoints })),
  );
});

test("every embedded migration's SQL is identical to its drizzle/<tag>.sql", () => {
  for (const m of embeddedMigrations) {
    expect({ tag: m.tag, sql: m.sql }).toEqual({ tag: m.tag, sql: readFileSync(join(root, "drizzle", `${m.tag}.sql`), "utf8") });
  }
});

test("the embedded list equals what drizzle's folder migrator reads (same statements, timestamps and hashes)", () => {
  expect(embeddedMigrationMeta()).toEqual(readMigrationFiles({ migrationsFolder: join(root, "drizzle") }));
});

test("journal timestamps increase, so drizzle applies every new migration after the ones before it", () => {
  const whens = journal.entries.map((e) => e.when);
  expect(whens).toEqual([...whens].sort((a, b) => a - b));
  expect(new Set(whens).size).toBe(whens.length);
});

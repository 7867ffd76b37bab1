// The PostgreSQL migrations embedded in the binary are exactly drizzle-pg/ (journal order, SQL byte
// for byte) and what drizzle's own folder reader would apply; scripts/check-migrations.sh covers the
// other half (drizzle-pg/ in step with src/storage/postgres/schema.ts). No server needed.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { embeddedMigrationMeta } from "../../src/db/migrate";
import { embeddedMigrations } from "../../src/storage/postgres/migrations.generated";

const root = join(import.meta.dir, "../..");
const journal = JSON.parse(readFileSync(join(root, "drizzle-pg/meta/_journal.json"), "utf8")) as {
  dialect: string;
  entries: { tag: string; when: number; breakpoints: boolean }[];
};

test("src/storage/postgres/migrations.generated.ts lists drizzle-pg/'s journal, in order, with each file's SQL", () => {
  expect(journal.dialect).toBe("postgresql");
  expect(embeddedMigrations.map(({ tag, when, breakpoints }) => ({ tag, when, breakpoints }))).toEqual(
    journal.entries.map(({ tag, when, breakpoints }) => ({ tag, when, breakpoints })),
  );
  for (const m of embeddedMigrations) expect(m.sql).toBe(readFileSync(join(root, "drizzle-pg", `${m.tag}.sql`), "utf8"));
});

test("the embedded list equals what drizzle's folder migrator reads (statements, timestamps, hashes), so drizzle-kit migrate agrees", () => {
  expect(embeddedMigrationMeta(embeddedMigrations)).toEqual(readMigrationFiles({ migrationsFolder: join(root, "drizzle-pg") }));
});

test("every statement of the hand-written migration is its own chunk (PL/pgSQL bodies are never split)", () => {
  const custom = embeddedMigrationMeta(embeddedMigrations).at(-1)!;
  for (const statement of custom.sql) {
    const dollars = statement.match(/\$\$/g)?.length ?? 0;
    expect(dollars % 2).toBe(0);
  }
});

// The compiled binary upgrades databases: an empty data dir, and one left by the previous release
// (every embedded migration but the last). Generic over the migration list, so each new migration
// is tested against the schema before it without editing this file.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { embeddedMigrationMeta, runMigrations } from "../../src/db/migrate";
import { embeddedMigrations } from "../../src/db/migrations.generated";
import { client } from "../support/api";
import { installInEmptyDir, startBinary } from "../support/binary";

type SchemaRow = { type: string; name: string; tbl_name: string; sql: string | null };

function schemaOf(path: string): SchemaRow[] {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .query("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
      .all() as SchemaRow[];
  } finally {
    db.close();
  }
}

function appliedMigrations(path: string): { hash: string; created_at: number }[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.query("SELECT hash, created_at FROM __drizzle_migrations ORDER BY id").all() as { hash: string; created_at: number }[];
  } finally {
    db.close();
  }
}

/** The schema every migration produces, applied in-process: what any upgraded database must equal. */
let reference: SchemaRow[];
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "chat-migrations-"));
  const path = join(scratch, "reference.db");
  const db = drizzle({ client: new Database(path, { create: true }) });
  expect(runMigrations(db)).toBe(embeddedMigrations.length);
  db.$client.close();
  reference = schemaOf(path);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const expectedHashes = () => embeddedMigrationMeta().map((m) => m.hash);

/** A value for a NOT NULL column with no default, guessed from its name and type. */
function valueFor(column: { name: string; type: string }, user: { id: string; username: string; email: string; hash: string }) {
  const name = column.name.toLowerCase();
  if (name === "id") return user.id;
  if (name.startsWith("username")) return name === "username" ? user.username : user.username.toLowerCase();
  if (name.startsWith("email")) return name === "email" ? user.email : user.email.toLowerCase();
  if (name.includes("password")) return user.hash;
  if (name.endsWith("_at")) return Date.now();
  if (/INT|REAL|NUM/i.test(column.type)) return 0;
  return "x";
}

describe("the binary migrates", () => {
  test("an empty data dir to exactly the schema the migrations produce", async () => {
    const install = await installInEmptyDir();
    try {
      const running = await startBinary(install.bin, { cwd: install.dir });
      expect(await running.stop()).toBe(0);
      const path = join(install.dir, "data", "chat.db");
      expect(schemaOf(path)).toEqual(reference);
      expect(appliedMigrations(path).map((m) => m.hash)).toEqual(expectedHashes());
    } finally {
      install.cleanup();
    }
  });

  test("a database made by the previous migration, keeping its rows, and then serves it", async () => {
    const install = await installInEmptyDir();
    try {
      const dataDir = join(install.dir, "data");
      mkdirSync(dataDir, { mode: 0o700 });
      const path = join(dataDir, "chat.db");

      // The previous release's database: drizzle's migrator with all but the last embedded migration.
      const previous = embeddedMigrationMeta().slice(0, -1);
      const sqlite = new Database(path, { create: true });
      sqlite.run("PRAGMA journal_mode = WAL");
      const db = drizzle({ client: sqlite });
      (db as any).dialect.migrate(previous, (db as any).session, {});

      // A user as that schema stores one, when that schema has users at all (not before the first migration).
      const legacy = { id: crypto.randomUUID(), username: "legacy_user", email: "legacy@example.com", password: "legacy password 1", hash: "" };
      legacy.hash = await Bun.password.hash(legacy.password, { algorithm: "argon2id", memoryCost: 19_456, timeCost: 2 });
      const columns = sqlite.query("PRAGMA table_info(users)").all() as { name: string; type: string; notnull: number; dflt_value: unknown; pk: number }[];
      const hasUsers = columns.length > 0;
      if (hasUsers) {
        const filled = columns.filter((c) => c.pk || (c.notnull && c.dflt_value === null) || ["username", "email", "password_hash", "full_name"].includes(c.name));
        const values = filled.map((c) => (c.name === "full_name" ? "Legacy User" : valueFor(c, legacy)));
        sqlite.query(`INSERT INTO users (${filled.map((c) => `"${c.name}"`).join(", ")}) VALUES (${filled.map(() => "?").join(", ")})`).run(...(values as any[]));
      } else {
        console.info(`(previous schema = ${previous.length} migration(s), no users table yet: the upgrade is tested from an empty database)`);
      }
      sqlite.close();
      expect(appliedMigrations(path).map((m) => m.hash)).toEqual(expectedHashes().slice(0, -1));

      const running = await startBinary(install.bin, { cwd: install.dir });
      try {
        const api = client(running.url);
        if (hasUsers) {
          const login = await api.post("/api/v1/auth/login", { username: legacy.username, password: legacy.password });
          expect(login.status).toBe(200);
          const me = await api.get("/api/v1/auth/me", login.body.access_token);
          expect(me.status).toBe(200);
          expect(me.body.id).toBe(legacy.id);
          expect(me.body.email).toBe(legacy.email);
        }
        // And it serves the current schema: new users, conversations and messages.
        const alice = await api.newUser("alice");
        const bob = await api.newUser("bob");
        const dm = await api.dm(alice.token, bob.user.id);
        expect(dm.status).toBe(201);
        const sent = await api.send(alice.token, dm.body.id, "after the upgrade");
        expect(sent.status).toBe(201);
        const page = await api.get(`/api/v1/conversations/${dm.body.id}/messages`, bob.token);
        expect(page.body.map((m: any) => m.content)).toEqual(["after the upgrade"]);
      } catch (error) {
        console.error(running.output());
        throw error;
      } finally {
        expect(await running.stop()).toBe(0);
      }

      expect(appliedMigrations(path).map((m) => m.hash)).toEqual(expectedHashes());
      expect(schemaOf(path)).toEqual(reference);
    } finally {
      install.cleanup();
    }
  });
});

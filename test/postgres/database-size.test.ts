// /metrics' chat_database_size_bytes on PostgreSQL: the gauge is read synchronously, the size is a
// query, so it is sampled in the background and reported as last known.
import { describe, expect, test } from "bun:test";
import { databaseSizeSampler } from "../../src/storage/postgres/compose";
import { postgresMissing } from "../support/postgres";
import { pgDatabases } from "./helpers";

const database = pgDatabases();

describe.skipIf(postgresMissing !== null)("PostgreSQL database size", () => {
  test("the first call starts a sample; later calls report pg_database_size", async () => {
    const { db } = await database();
    const size = databaseSizeSampler(db);
    expect(size()).toBe(0);
    const [row] = await db.$client`SELECT pg_database_size(current_database()) AS bytes`;
    for (let i = 0; i < 100 && size() === 0; i++) await Bun.sleep(10);
    // A migrated database has tables and indexes: megabytes, within what the server itself reports.
    expect(size()).toBeGreaterThan(1_000_000);
    expect(Math.abs(size() - Number(row.bytes))).toBeLessThan(1_000_000);
  });
});

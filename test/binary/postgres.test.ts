// The compiled executable serving from PostgreSQL (--database-url, a configured --jwt-secret):
// /health answers with the database reachable, and a signup, a send and a history read go through.
// Skipped when the PostgreSQL binaries are missing (scripts/ci-install-postgres.sh installs them).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { client } from "../support/api";
import { installInEmptyDir, startBinary, type RunningBinary } from "../support/binary";
import { postgresMissing, startPostgres, type TestPostgres } from "../support/postgres";

const SECRET = "binary-on-postgres-".repeat(3);

describe.skipIf(postgresMissing !== null)("the binary on PostgreSQL", () => {
  let install: Awaited<ReturnType<typeof installInEmptyDir>>;
  let pg: TestPostgres;
  let running: RunningBinary;
  let dataDir: string;
  beforeAll(async () => {
    install = await installInEmptyDir();
    pg = await startPostgres();
    dataDir = mkdtempSync(join(tmpdir(), "chat-pg-bin-"));
    const url = await pg.createDatabase();
    running = await startBinary(install.bin, {
      cwd: install.dir,
      args: ["--data-dir", dataDir, "--host", "127.0.0.1", "--database-url", url, "--jwt-secret", SECRET],
    });
  });
  afterAll(async () => {
    await running?.stop("SIGTERM");
    await pg?.stop();
    install?.cleanup();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test("/health is ok; signup, a send and the history read go through; no SQLite file in --data-dir", async () => {
    const api = client(running.url);
    const health = await api.get("/health");
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: "ok" });
    const alice = await api.newUser("pgalice");
    const bob = await api.newUser("pgbob");
    const dm = await api.dm(alice.token, bob.user.id);
    expect(dm.status).toBeLessThan(300);
    const sent = await api.send(alice.token, dm.body.id, "hello from PostgreSQL");
    expect(sent.status).toBe(201);
    expect(sent.body.seq).toBe(1);
    const history = await api.get(`/api/v1/conversations/${dm.body.id}/messages`, bob.token);
    expect(history.status).toBe(200);
    expect(history.body.map((m: { content: string }) => m.content)).toEqual(["hello from PostgreSQL"]);
    expect(readdirSync(dataDir).filter((f) => f.startsWith("chat.db"))).toEqual([]);
  });
});

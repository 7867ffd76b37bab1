// The administrative commands with --database-url: `user create --bot`, `token create` and
// `webhook add|list|remove` write to PostgreSQL (not to a SQLite file in --data-dir), and the
// token they print authenticates against a server on the same database.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { postgresMissing, sharedPostgres } from "../support/postgres";
import { startTestServer } from "../support/server";

const ENTRY = resolve(import.meta.dir, "../../src/index.ts");
const SECRET = "c".repeat(20) + "0123456789abcdefghij";
const cluster = sharedPostgres();
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function cli(args: string[], url: string, dataDir: string) {
  const proc = Bun.spawn([process.execPath, "run", ENTRY, ...args, "--database-url", url, "--data-dir", dataDir], {
    env: { PATH: process.env.PATH ?? "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr };
}

describe.skipIf(postgresMissing !== null)("the CLI on PostgreSQL", () => {
  test("a bot, its token and a webhook made by the CLI are the server's, and no chat.db appears", async () => {
    const url = await (await cluster()).createDatabase();
    const dataDir = mkdtempSync(join(tmpdir(), "chat-pgcli-"));
    dirs.push(dataDir);
    const bot = await cli(["user", "create", "--bot", "--username", "pgbot"], url, dataDir);
    expect(bot.stderr).toBe("");
    expect(bot.code).toBe(0);
    const token = await cli(["token", "create", "--username", "pgbot", "--json"], url, dataDir);
    expect(token.code).toBe(0);
    const { token: secret } = JSON.parse(token.stdout);
    const hook = await cli(["webhook", "add", "--url", "https://93.184.216.34/chat", "--events", "all", "--json"], url, dataDir);
    expect(hook.code).toBe(0);
    const { id } = JSON.parse(hook.stdout);
    const list = await cli(["webhook", "list", "--json"], url, dataDir);
    expect(JSON.parse(list.stdout).map((h: { id: string }) => h.id)).toEqual([id]);
    expect(existsSync(join(dataDir, "chat.db"))).toBe(false);

    const server = await startTestServer({ databaseUrl: url, jwtSecret: SECRET });
    try {
      const me = await fetch(`${server.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${secret}` } });
      expect(me.status).toBe(200);
      expect((await me.json()).username).toBe("pgbot");
    } finally {
      await server.close();
    }
    expect((await cli(["webhook", "remove", id], url, dataDir)).code).toBe(0);
    expect(JSON.parse((await cli(["webhook", "list", "--json"], url, dataDir)).stdout)).toEqual([]);
  });
});

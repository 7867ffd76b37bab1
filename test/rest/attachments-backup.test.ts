// `backup` includes the attachments (files/ beside the database copy) and `restore` puts both back:
// real CLI processes against a running server, then a new server on the restored data directory.
import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { API, client, PASSWORD } from "../support/api";
import { sqliteOnly, startTestServer } from "../support/server";
import { download, upload } from "../support/uploads";

const ENTRY = resolve(import.meta.dir, "../../src/index.ts");

async function cli(args: string[]) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("CHAT_")) env[k] = v;
  const proc = Bun.spawn([process.execPath, "run", ENTRY, ...args], { env, stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr };
}

test.skipIf(sqliteOnly("backup/restore: the backup command copies SQLite; PostgreSQL is backed up with pg_dump"))("a backup taken while the server runs restores one attachment, readable by the recipient of its message", async () => {
  const backups = mkdtempSync(join(tmpdir(), "chat-backups-"));
  const restored = mkdtempSync(join(tmpdir(), "chat-restored-"));
  const source = await startTestServer({ rateLimit: false });
  try {
    const api = client(source.url);
    const alice = await api.newUser("ba");
    const bob = await api.newUser("bb");
    const dm = (await api.dm(alice.token, bob.user.id)).body.id;
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 13) % 256);
    const file = await upload(source.url, alice.token, bytes, { type: "application/octet-stream", filename: "data.bin" });
    expect(file.status).toBe(201);
    const sent = await api.request("POST", `${API}/conversations/${dm}/messages`, { token: alice.token, body: { content: "here", attachment_ids: [file.body.id] } });
    expect(sent.status).toBe(201);

    const target = join(backups, "chat-1.db");
    const backup = await cli(["backup", "--data-dir", source.dataDir, target]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toContain("1 copied");
    const sha = file.body.sha256 as string;
    expect(existsSync(join(backups, "files", sha.slice(0, 2), sha.slice(2, 4), sha))).toBe(true);
    // A second backup into the same directory shares files/ and copies nothing new.
    const again = await cli(["backup", "--data-dir", source.dataDir, join(backups, "chat-2.db")]);
    expect(again.stdout).toContain("0 copied, 1 already there");

    // The server holds its data directory: restore refuses to run beside it.
    expect((await cli(["restore", "--data-dir", source.dataDir, "--force", target])).code).not.toBe(0);
    await source.close();

    const restore = await cli(["restore", "--data-dir", restored, target]);
    expect(restore.code, restore.stderr).toBe(0);
    // Restoring over an existing database needs --force.
    expect((await cli(["restore", "--data-dir", restored, target])).code).not.toBe(0);

    const back = await startTestServer({ dataDir: restored, rateLimit: false });
    try {
      const api2 = client(back.url);
      const login = await api2.post(`${API}/auth/login`, { username: bob.user.username, password: PASSWORD });
      expect(login.status).toBe(200);
      const got = await download(back.url, login.body.access_token, file.body.id);
      expect(got.status).toBe(200);
      expect(Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true);
      const history = await api2.get(`${API}/conversations/${dm}/messages`, login.body.access_token);
      expect(history.body[0].attachments).toEqual([file.body]);
    } finally {
      await back.close();
    }
  } finally {
    await source.close();
    rmSync(backups, { recursive: true, force: true });
    rmSync(restored, { recursive: true, force: true });
  }
}, 60_000);

// Live sessions end when access ends: an open socket is closed with 4401 when its user's password
// changes (over the API, or from the CLI in another process), when the account is disabled, and when
// its token expires. Disabled accounts cannot log in or use their tokens; enable restores login.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { type Api, client } from "../support/api";
import { startTestServer, type TestServer } from "../support/server";
import { barrier, closeAll, connect, devices, type TestSocket, wsUrl } from "../support/socket";
import { craftToken, secretOf } from "../support/tokens";

const ENTRY = resolve(import.meta.dir, "../../src/index.ts");

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

/** `chat-server user …` as another process against the running server's data directory. */
async function cli(args: string[], env: Record<string, string> = {}) {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("CHAT_")) clean[k] = v;
  const database = server.deps.config.databaseUrl ? ["--database-url", server.deps.config.databaseUrl] : [];
  const proc = Bun.spawn([process.execPath, "run", ENTRY, "user", ...args, "--data-dir", server.dataDir, ...database], {
    env: { ...clean, CHAT_PASSWORD_MEMORY_KIB: "19456", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr };
}

async function expectRevoked(...sockets: TestSocket[]) {
  for (const s of sockets) {
    const closed = await s.waitClose(10_000);
    expect(closed.code).toBe(4401);
  }
}

describe("a password change ends every live session of the user", () => {
  test("PUT /users/me with a new password closes the user's open sockets with 4401; others stay", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const sockets = await devices(server, alice, 2);
    const bystander = await connect(server.url, bob.token);
    const changed = await api.put("/api/v1/users/me", { password: "a different password", current_password: alice.password }, alice.token);
    expect(changed.status).toBe(200);
    await expectRevoked(...sockets);
    // A socket opened with a token from the new password works.
    const login = await api.post("/api/v1/auth/login", { username: alice.user.username, password: "a different password" });
    const fresh = await connect(server.url, login.body.access_token);
    await barrier(fresh, bystander);
    closeAll(fresh, bystander);
  }, 20_000);

  test("a profile change that keeps the password ends nothing", async () => {
    const alice = await api.newUser("alice");
    const s = await connect(server.url, alice.token);
    expect((await api.put("/api/v1/users/me", { bio: "still here" }, alice.token)).status).toBe(200);
    await Bun.sleep(1_500); // past a session check
    await barrier(s);
    s.close();
  }, 20_000);

  test("user reset-password run by another process closes the user's sockets with 4401", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const s = await connect(server.url, alice.token);
    const bystander = await connect(server.url, bob.token);
    const reset = await cli(["reset-password", "--username", alice.user.username], { CHAT_NEW_PASSWORD: "reset from the cli" });
    expect(reset.stderr).toBe("");
    expect(reset.code).toBe(0);
    await expectRevoked(s);
    await barrier(bystander);
    bystander.close();
  }, 30_000);
});

describe("user disable and enable (another process)", () => {
  test("disable: sockets closed with 4401, login and the old token 401, messages kept; enable restores login only", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const dm = (await api.dm(bob.token, alice.user.id)).body.id;
    expect((await api.send(alice.token, dm, "written before the disable")).status).toBe(201);
    const sockets = await devices(server, alice, 2);

    const disabled = await cli(["disable", "--username", alice.user.username]);
    expect(disabled.stderr).toBe("");
    expect(disabled.code).toBe(0);
    expect(disabled.stdout).toContain("disabled");
    await expectRevoked(...sockets);
    expect((await api.get("/api/v1/auth/me", alice.token)).status).toBe(401);
    const refused = await api.post("/api/v1/auth/login", { username: alice.user.username, password: alice.password });
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe("invalid_credentials");
    expect((await api.post("/api/v1/auth/login", { username: alice.user.email, password: alice.password })).status).toBe(401);
    // A socket with the old token is refused at once.
    const late = new WebSocket(wsUrl(server.url));
    const code = await new Promise<number>((done) => {
      late.onopen = () => late.send(JSON.stringify({ token: alice.token }));
      late.onclose = (e) => done(e.code);
    });
    expect(code).toBe(4401);
    // Messages are kept.
    const history = await api.get(`/api/v1/conversations/${dm}/messages`, bob.token);
    expect(history.body.map((m: any) => m.content)).toEqual(["written before the disable"]);

    expect((await cli(["disable", "--username", alice.user.username])).stdout).toContain("already disabled");
    const enabled = await cli(["enable", "--username", alice.user.username]);
    expect(enabled.code).toBe(0);
    expect(enabled.stdout).toContain("enabled");
    const login = await api.post("/api/v1/auth/login", { username: alice.user.username, password: alice.password });
    expect(login.status).toBe(200);
    // Tokens from before the disable stay revoked; the new one works everywhere.
    expect((await api.get("/api/v1/auth/me", alice.token)).status).toBe(401);
    expect((await api.get("/api/v1/auth/me", login.body.access_token)).status).toBe(200);
    const back = await connect(server.url, login.body.access_token);
    await barrier(back);
    back.close();
  }, 30_000);

  test("disable of an unknown user fails naming it", async () => {
    const result = await cli(["disable", "--username", "nobody_at_all"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("nobody_at_all");
  }, 30_000);
});

describe("token expiry", () => {
  test("a socket is closed with 4401 when its token's exp passes", async () => {
    const alice = await api.newUser("alice");
    // --token-ttl is at least 60 s, so the short-lived token is made with the server's own secret.
    const short = await craftToken(secretOf(server), { sub: alice.user.id, exp: Math.floor(Date.now() / 1000) + 2 });
    const s = await connect(server.url, short);
    const long = await connect(server.url, alice.token);
    const closed = await s.waitClose(10_000);
    expect(closed.code).toBe(4401);
    expect(closed.reason).toContain("expired");
    await barrier(long); // the same user's other session is untouched
    long.close();
  }, 20_000);
});

// Bots and API tokens through the compiled binary: `user create --bot` and `token create|list|revoke`
// run as other processes against the data directory of the same binary serving. A token works on
// REST and sockets; a revoke or an expiry is refused at once and closes exactly that token's sockets.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Api, client, PASSWORD } from "../support/api";
import { installInEmptyDir, runToExit, startBinary, type RunningBinary } from "../support/binary";
import { expectError } from "../support/expect";
import { barrier, closeAll, connect, newMessages, rawSocket, type TestSocket } from "../support/socket";

let install: Awaited<ReturnType<typeof installInEmptyDir>>;
let running: RunningBinary;
let api: Api;
const dataDir = () => join(install.dir, "data");

beforeAll(async () => {
  install = await installInEmptyDir("chat-tokens-");
  running = await startBinary(install.bin, { cwd: install.dir });
  api = client(running.url);
}, 120_000);
afterAll(async () => {
  await running?.stop();
  install?.cleanup();
});

const cli = (args: string[], env: Record<string, string> = {}) =>
  runToExit(install.bin, args, { cwd: install.dir, env: { CHAT_PASSWORD_MEMORY_KIB: "19456", ...env } });

let botCount = 0;
async function newBot() {
  const username = `bot_${Date.now().toString(36)}${botCount++}`;
  const made = await cli(["user", "create", "--bot", "--username", username]);
  expect(made.stderr).toBe("");
  expect(made.code).toBe(0);
  expect(made.stdout).toContain(`created bot ${username}`);
  return username;
}

/** `token create` in text form; returns the printed token (its `token:` line) and the id. */
async function newToken(username: string, extra: string[] = []) {
  const made = await cli(["token", "create", "--username", username, ...extra]);
  expect(made.stderr).toBe("");
  expect(made.code).toBe(0);
  const token = /^token: (\S+)$/m.exec(made.stdout)?.[1];
  const id = /created token (\S+)/.exec(made.stdout)?.[1];
  expect(token).toMatch(/^chat_[A-Za-z0-9_-]{43}$/);
  return { token: token!, id: id! };
}

async function expectClosed4401(...sockets: TestSocket[]) {
  for (const s of sockets) expect((await s.waitClose(15_000)).code).toBe(4401);
}

/** Writes to the database as yet another process would (the server sees it through data_version). */
function sql(statement: string, ...params: (string | number)[]) {
  const db = new Database(join(dataDir(), "chat.db"));
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    db.query(statement).run(...params);
  } finally {
    db.close();
  }
}

describe("bots", () => {
  test("a bot cannot log in with a password: the same 401 as a wrong password; its User view says is_bot", async () => {
    const bot = await newBot();
    const human = await api.newUser("human");
    const botLogin = await api.post("/api/v1/auth/login", { username: bot, password: PASSWORD });
    const wrongPassword = await api.post("/api/v1/auth/login", { username: human.user.username, password: "not the password" });
    expectError(botLogin, 401, { code: "invalid_credentials" });
    expect(botLogin.body).toEqual(wrongPassword.body);
    const formLogin = await api.request("POST", "/api/v1/auth/login", { form: { username: bot, password: "" } });
    expect(formLogin.status).toBeGreaterThanOrEqual(400);

    const { token } = await newToken(bot);
    const me = await api.get("/api/v1/auth/me", token);
    expect(me.status).toBe(200);
    expect(me.body.username).toBe(bot);
    expect(me.body.is_bot).toBe(true);
    expect((await api.get("/api/v1/auth/me", human.token)).body.is_bot).toBe(false);
    expect((await api.get(`/api/v1/users/${me.body.id}`, human.token)).body.is_bot).toBe(true);
  }, 60_000);

  test("user create --bot refuses a password; token create needs an existing, enabled account", async () => {
    const withPassword = await cli(["user", "create", "--bot", "--username", "bot_pw", "--password", "long enough"]);
    expect(withPassword.code).not.toBe(0);
    expect(withPassword.stderr).toContain("password");
    const cases: [string[], string][] = [
      [["token", "create"], "--username"],
      [["token", "create", "--username", "nobody_at_all"], "nobody_at_all"],
      [["token", "create", "--username", "x", "--ttl", "soon"], "--ttl"],
      [["token", "create", "--username", "x", "--ttl", "0d"], "--ttl"],
      [["token", "revoke"], "<id>"],
      [["token", "revoke", "no-such-id"], "no-such-id"],
      [["token", "frob"], "frob"],
    ];
    for (const [args, word] of cases) {
      const result = await cli(args);
      expect(result.code, args.join(" ")).not.toBe(0);
      expect(result.stderr, args.join(" ")).toContain(word);
    }
    const help = await cli(["token", "--help"]);
    expect(help.code).toBe(0);
    for (const word of ["create", "list", "revoke"]) expect(help.stdout).toContain(word);
    const createHelp = await cli(["token", "create", "--help"]);
    for (const word of ["--username", "--ttl", "--name", "--json"]) expect(createHelp.stdout).toContain(word);
  }, 60_000);
});

describe("API tokens", () => {
  test("a bot's token sends over REST and authenticates sockets (first frame and upgrade header)", async () => {
    const bot = await newBot();
    const { token } = await newToken(bot, ["--name", "echo"]);
    const alice = await api.newUser("alice");
    const aliceSocket = await connect(running.url, alice.token);
    const botSocket = await connect(running.url, token);
    const headerSocket = rawSocket(running.url, { headers: { authorization: `Bearer ${token}` } });
    await headerSocket.waitType("ready");

    const botId = (await api.get("/api/v1/auth/me", token)).body.id;
    const dm = await api.dm(token, alice.user.id);
    expect(dm.status).toBe(201);
    const sent = await api.send(token, dm.body.id, "beep from the bot");
    expect(sent.status).toBe(201);
    expect(sent.body.sender_id).toBe(botId);
    await aliceSocket.waitFor((f) => f.type === "new_message" && f.message.id === sent.body.id);

    await api.send(alice.token, dm.body.id, "hello bot");
    for (const s of [botSocket, headerSocket]) await s.waitFor((f) => f.type === "new_message" && f.message.content === "hello bot");
    // The socket sends too, with the usual ack.
    botSocket.send({ type: "message", conversation_id: dm.body.id, content: "over the socket", client_msg_id: "b1" });
    const ack = await botSocket.waitFor((f) => f.type === "message_ack");
    expect(ack.message.sender_id).toBe(botId);
    closeAll(aliceSocket, botSocket, headerSocket);
  }, 60_000);

  test("a human's token works like their login; a token that is no token, or a tampered one, is 401", async () => {
    const alice = await api.newUser("alice");
    const { token } = await newToken(alice.user.username);
    expect((await api.get("/api/v1/auth/me", token)).body.id).toBe(alice.user.id);
    const tampered = token.slice(0, -1) + (token.endsWith("A") ? "B" : "A");
    for (const bad of [tampered, "chat_", "chat_short", token + "x"]) expectError(await api.get("/api/v1/auth/me", bad), 401);
    const badSocket = rawSocket(running.url);
    await badSocket.opened;
    badSocket.send({ token: tampered });
    expect((await badSocket.waitClose()).code).toBe(4401);
  }, 60_000);

  test("token revoke from the CLI: REST 401 at once, that token's sockets close with 4401, the bot's other token stays", async () => {
    const bot = await newBot();
    const first = await newToken(bot);
    const second = await newToken(bot);
    const byFrame = await connect(running.url, first.token);
    const byHeader = rawSocket(running.url, { headers: { authorization: `Bearer ${first.token}` } });
    await byHeader.waitType("ready");
    const other = await connect(running.url, second.token);

    const startedAt = performance.now();
    const revoked = await cli(["token", "revoke", first.id]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain("is now revoked");
    expectError(await api.get("/api/v1/auth/me", first.token), 401);
    await expectClosed4401(byFrame, byHeader);
    console.log(`revoke → 4401 after ${Math.round(performance.now() - startedAt)} ms (CLI process included)`);
    await barrier(other);
    expect((await api.get("/api/v1/auth/me", second.token)).status).toBe(200);
    // A revoked token cannot open a socket either.
    const again = rawSocket(running.url);
    await again.opened;
    again.send({ token: first.token });
    expect((await again.waitClose()).code).toBe(4401);

    const twice = await cli(["token", "revoke", first.id]);
    expect(twice.code).toBe(0);
    expect(twice.stdout).toContain("already revoked");
    closeAll(other);
  }, 60_000);

  test("an expired token is refused on REST and on sockets; a token expiring while its socket is open closes it", async () => {
    const bot = await newBot();
    const short = await newToken(bot, ["--ttl", "1s"]);
    await Bun.sleep(1_100);
    expectError(await api.get("/api/v1/auth/me", short.token), 401);
    const refused = rawSocket(running.url);
    await refused.opened;
    refused.send({ token: short.token });
    expect((await refused.waitClose()).code).toBe(4401);

    // A live token whose expiry moves into the past (another process's commit): refused at once, socket closed.
    const long = await newToken(bot, ["--ttl", "1h"]);
    const socket = await connect(running.url, long.token);
    expect((await api.get("/api/v1/auth/me", long.token)).status).toBe(200);
    sql("UPDATE api_tokens SET expires_at = ? WHERE id = ?", Date.now() - 1000, long.id);
    await expectClosed4401(socket);
    expectError(await api.get("/api/v1/auth/me", long.token), 401);

    const listed = JSON.parse((await cli(["token", "list", "--username", bot, "--json"])).stdout) as { id: string; status: string }[];
    expect(listed.map((t) => t.status).sort()).toEqual(["expired", "expired"]);
  }, 60_000);

  test("a disabled or deleted bot's tokens are refused and its sockets close; enable brings the tokens back", async () => {
    const bot = await newBot();
    const { token } = await newToken(bot);
    const socket = await connect(running.url, token);
    expect((await cli(["user", "disable", "--username", bot])).code).toBe(0);
    await expectClosed4401(socket);
    expectError(await api.get("/api/v1/auth/me", token), 401);
    expect((await cli(["user", "enable", "--username", bot])).code).toBe(0);
    expect((await api.get("/api/v1/auth/me", token)).status).toBe(200);

    // A deleted bot (an operator's DELETE, without foreign keys even): its tokens die with it.
    const again = await connect(running.url, token);
    sql("DELETE FROM users WHERE username = ?", bot);
    await expectClosed4401(again);
    expectError(await api.get("/api/v1/auth/me", token), 401);
  }, 60_000);

  test("token list shows ids, names, status and last use but never a token; the database holds only hashes", async () => {
    const bot = await newBot();
    const text = await newToken(bot, ["--name", "ci notifier", "--ttl", "30d"]);
    const json = await cli(["token", "create", "--username", bot, "--json"]);
    expect(json.code).toBe(0);
    const created = JSON.parse(json.stdout);
    expect(created.token).toMatch(/^chat_/);
    expect(created.expires_at).toBeNull();
    expect((await api.get("/api/v1/auth/me", text.token)).status).toBe(200);

    const listText = await cli(["token", "list"]);
    const listJson = await cli(["token", "list", "--username", bot, "--json"]);
    for (const out of [listText.stdout, listJson.stdout]) {
      expect(out).toContain(text.id);
      expect(out).not.toContain(text.token);
      expect(out).not.toContain(created.token);
      expect(out).not.toMatch(/chat_[A-Za-z0-9_-]{20}/);
    }
    expect(listText.stdout).toContain("ci notifier");
    const rows = JSON.parse(listJson.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(2);
    const used = rows.find((r) => r.id === text.id)!;
    expect(used).toMatchObject({ username: bot, name: "ci notifier", status: "active", revoked_at: null });
    expect(typeof used.last_used_at).toBe("string");
    expect(typeof used.expires_at).toBe("string");
    for (const r of rows) expect(Object.keys(r).sort()).not.toContain("hash");

    // No file of the data directory (database, WAL) holds a token's text; the row holds its SHA-256.
    for (const file of readdirSync(dataDir())) {
      if (!statSync(join(dataDir(), file)).isFile()) continue; // files/ holds attachments
      const bytes = readFileSync(join(dataDir(), file)).toString("latin1");
      expect(bytes.includes(text.token), file).toBe(false);
      expect(bytes.includes(created.token), file).toBe(false);
    }
    const db = new Database(join(dataDir(), "chat.db"), { readonly: true });
    try {
      const row = db.query("SELECT hash FROM api_tokens WHERE id = ?").get(text.id) as { hash: string };
      expect(row.hash).toBe(new Bun.CryptoHasher("sha256").update(text.token).digest("hex"));
    } finally {
      db.close();
    }
  }, 60_000);
});

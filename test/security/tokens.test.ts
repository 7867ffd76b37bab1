// Bearer tokens per RFC 8725: every forged, stale or malformed token is a 401 with WWW-Authenticate
// over REST and a 4401 close on the socket, whether it comes in the first frame or the upgrade header.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { DB_FILE } from "../../src/db/data-dir";
import { type Api, client, type TestUser } from "../support/api";
import { expectErrorBody } from "../support/expect";
import { startTestServer, type TestServer } from "../support/server";
import { rawSocket } from "../support/socket";
import { craftToken, secretOf, unsignedToken } from "../support/tokens";

let server: TestServer;
let api: Api;
let secret: Uint8Array;
let alice: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  api = client(server.url);
  secret = secretOf(server);
  alice = await api.newUser("tok");
});
afterAll(() => server.close());

const nowS = () => Math.floor(Date.now() / 1000);

/** Name → token that must be refused. Built lazily because they need the server's secret and a user. */
const badTokens: [string, () => Promise<string>][] = [
  ["alg none", async () => unsignedToken({ sub: alice.user.id, ver: 0, iss: "chat-server", iat: nowS(), exp: nowS() + 3600 })],
  ["alg NONE (case variant)", async () => unsignedToken({ sub: alice.user.id, ver: 0, iss: "chat-server", iat: nowS(), exp: nowS() + 3600 }, "NONE")],
  ["HS384 with the server's secret", () => craftToken(secret, { sub: alice.user.id }, { alg: "HS384" })],
  ["HS512 with the server's secret", () => craftToken(secret, { sub: alice.user.id }, { alg: "HS512" })],
  ["missing exp", () => craftToken(secret, { sub: alice.user.id, exp: null })],
  ["exp in the past", () => craftToken(secret, { sub: alice.user.id, exp: nowS() - 120, iat: nowS() - 7200 })],
  ["foreign issuer", () => craftToken(secret, { sub: alice.user.id, iss: "someone-else" })],
  ["no issuer", () => craftToken(secret, { sub: alice.user.id, iss: null })],
  ["signed with another secret", () => craftToken(new TextEncoder().encode("x".repeat(48)), { sub: alice.user.id })],
  [
    "signature of another token spliced on",
    async () => {
      const good = await craftToken(secret, { sub: alice.user.id });
      const other = await craftToken(secret, { sub: alice.user.id, role: "admin" });
      return good.split(".").slice(0, 2).join(".") + "." + other.split(".")[2];
    },
  ],
  [
    "payload altered after signing",
    async () => {
      const [h, , s] = (await craftToken(secret, { sub: alice.user.id })).split(".");
      const forged = Buffer.from(JSON.stringify({ sub: alice.user.id, ver: 7, iss: "chat-server", exp: nowS() + 9999, iat: nowS() })).toString("base64url");
      return `${h}.${forged}.${s}`;
    },
  ],
  ["wrong token version", () => craftToken(secret, { sub: alice.user.id, ver: 1 })],
  ["sub is not a user", () => craftToken(secret, { sub: Bun.randomUUIDv7() })],
  ["ver as a string", () => craftToken(secret, { sub: alice.user.id, ver: "0" })],
  ["oversize token with a valid signature", () => craftToken(secret, { sub: alice.user.id, pad: "a".repeat(6000) })],
  ["garbage", async () => "not.a.jwt"],
  ["empty segments", async () => ".."],
];

async function expectRest401(authorization: string | undefined, label: string) {
  const res = await api.request("GET", "/api/v1/auth/me", { headers: authorization === undefined ? {} : { authorization } });
  expect(res.status, label).toBe(401);
  expect(res.headers.get("www-authenticate"), label).toMatch(/^Bearer/);
  expectErrorBody(res.body, label);
}

async function expectSocket4401(token: string, label: string) {
  const viaFrame = rawSocket(server.url);
  await viaFrame.opened;
  viaFrame.send({ token });
  expect((await viaFrame.waitClose(5000)).code, `${label} (first frame)`).toBe(4401);
  expect(viaFrame.ofType("ready"), label).toHaveLength(0);

  const viaHeader = rawSocket(server.url, { headers: { authorization: `Bearer ${token}` } });
  await viaHeader.opened.catch(() => {});
  viaHeader.send({ type: "ping" });
  expect((await viaHeader.waitClose(5000)).code, `${label} (upgrade header)`).toBe(4401);
  expect(viaHeader.ofType("ready").concat(viaHeader.ofType("pong")), label).toHaveLength(0);
}

test("control: the server's own token and a hand-made HS256 token with the same claims are accepted", async () => {
  expect((await api.get("/api/v1/auth/me", alice.token)).status).toBe(200);
  const crafted = await craftToken(secret, { sub: alice.user.id });
  expect((await api.get("/api/v1/auth/me", crafted)).status).toBe(200);
  const socket = rawSocket(server.url);
  await socket.opened;
  socket.send({ token: crafted });
  await socket.waitType("ready");
  socket.close();
});

describe("a refused token is a 401 with WWW-Authenticate over REST and 4401 on the socket", () => {
  for (const [name, make] of badTokens) {
    test(name, async () => {
      const token = await make();
      await expectRest401(`Bearer ${token}`, name);
      await expectSocket4401(token, name);
    });
  }
});

describe("wrong or missing scheme is a 401", () => {
  const cases: [string, () => string | undefined][] = [
    ["no Authorization header", () => undefined],
    ["empty header", () => ""],
    ["Basic scheme", () => `Basic ${Buffer.from("a:b").toString("base64")}`],
    ["Token scheme with a valid token", () => `Token ${alice.token}`],
    ["bare token without scheme", () => alice.token],
    ["Bearer with nothing after it", () => "Bearer "],
    ["two tokens", () => `Bearer ${alice.token} ${alice.token}`],
  ];
  for (const [name, header] of cases) test(name, () => expectRest401(header(), name));

  test("a socket whose upgrade header uses another scheme is not authenticated by it", async () => {
    const socket = rawSocket(server.url, { headers: { authorization: `Token ${alice.token}` } });
    await socket.opened;
    socket.send({ type: "ping" });
    expect((await socket.waitClose(5000)).code).toBe(4401);
    expect(socket.ofType("pong")).toHaveLength(0);
  });

  test("a first frame carrying 'Bearer <token>' instead of the bare token is refused", async () => {
    const socket = rawSocket(server.url);
    await socket.opened;
    socket.send({ token: `Basic ${alice.token}` });
    expect((await socket.waitClose(5000)).code).toBe(4401);
  });
});

test("a user deleted from outside the server (an operator's sqlite3 session) loses access at once", async () => {
  const gone = await api.newUser("gone");
  expect((await api.get("/api/v1/auth/me", gone.token)).status).toBe(200);
  const open = rawSocket(server.url, { headers: { authorization: `Bearer ${gone.token}` } });
  await open.waitType("ready");
  // Another connection, as an operator would use: the server caches user rows and must notice.
  const outside = new Database(join(server.dataDir, DB_FILE));
  outside.run("PRAGMA busy_timeout = 5000");
  outside.run("DELETE FROM users WHERE id = ?", [gone.user.id]);
  outside.close();
  await expectRest401(`Bearer ${gone.token}`, "deleted user");
  await expectSocket4401(gone.token, "deleted user");
  // The socket that was open is closed too, within a session check.
  expect((await open.waitClose(10_000)).code).toBe(4401);
}, 20_000);

test("tokens issued before a password change stop working; the new one works", async () => {
  const bob = await api.newUser("pwchange");
  const old = bob.token;
  const changed = await api.put("/api/v1/users/me", { password: "a brand new password", current_password: bob.password }, old);
  expect(changed.status).toBe(200);
  await expectRest401(`Bearer ${old}`, "token before password change");
  await expectSocket4401(old, "token before password change");
  const login = await api.post("/api/v1/auth/login", { username: bob.user.username, password: "a brand new password" });
  expect(login.status).toBe(200);
  expect((await api.get("/api/v1/auth/me", login.body.access_token)).status).toBe(200);
});

test("the server's tokens are HS256 with exp, iat, sub and the issuer", () => {
  const [header, payload] = alice.token.split(".").slice(0, 2).map((p) => JSON.parse(Buffer.from(p, "base64url").toString()));
  expect(header.alg).toBe("HS256");
  expect(payload.iss).toBe("chat-server");
  expect(payload.sub).toBe(alice.user.id);
  expect(typeof payload.exp).toBe("number");
  expect(typeof payload.iat).toBe("number");
  expect(payload.exp).toBeGreaterThan(payload.iat);
});

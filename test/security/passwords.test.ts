// Passwords and logins: argon2id at OWASP's minimum or above, brute force limited per account and per
// address (X-Forwarded-For only counts behind a trusted proxy), hashing capped, and no user enumeration.
import { describe, expect, test } from "bun:test";
import { hashPassword, verifyPassword } from "../../src/modules/auth/passwords";
import type { Api } from "../support/api";
import { expectErrorBody } from "../support/expect";
import { freshServers } from "../support/server";

const fresh = freshServers();

const login = (api: Api, username: string, password: string, headers: Record<string, string> = {}) =>
  api.request("POST", "/api/v1/auth/login", { body: { username, password }, headers });

function expect429(res: { status: number; body: unknown; headers: Headers }, label = "") {
  expect(res.status, label).toBe(429);
  const retryAfter = res.headers.get("retry-after");
  expect(retryAfter, label).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(retryAfter)).toBeLessThanOrEqual(60);
  expectErrorBody(res.body, label);
}

test("stored hashes are argon2id PHC strings with m >= 19456 KiB, t >= 2, a salt, and no plaintext", async () => {
  const { server, api } = await fresh();
  const a = await api.newUser("hash");
  const b = await api.newUser("hash");
  const rows = server.db.$client
    .query<{ password_hash: string }, [string, string]>("SELECT password_hash FROM users WHERE id IN (?, ?)")
    .all(a.user.id, b.user.id);
  expect(rows).toHaveLength(2);
  for (const { password_hash } of rows) {
    const m = /^\$argon2id\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(password_hash);
    expect(m, password_hash).not.toBeNull();
    const [, version, memory, time, parallel, salt] = m!;
    expect(Number(version)).toBe(19);
    expect(Number(memory)).toBeGreaterThanOrEqual(19_456);
    expect(Number(time)).toBeGreaterThanOrEqual(2);
    expect(Number(parallel)).toBeGreaterThanOrEqual(1);
    expect(Buffer.from(salt!, "base64").length).toBeGreaterThanOrEqual(16);
    expect(password_hash).not.toContain(a.password);
  }
  // Same password, different salts.
  expect(rows[0]!.password_hash).not.toBe(rows[1]!.password_hash);
});

test("concurrent hashing is capped, so a login flood queues instead of exhausting memory", async () => {
  const original = Bun.password.hash;
  let inFlight = 0;
  let peak = 0;
  (Bun.password as any).hash = async (...args: Parameters<typeof original>) => {
    peak = Math.max(peak, ++inFlight);
    try {
      return await original(...args);
    } finally {
      inFlight--;
    }
  };
  try {
    const hashes = await Promise.all(Array.from({ length: 12 }, (_, i) => hashPassword(`password-${i}`)));
    expect(peak).toBeGreaterThanOrEqual(1);
    expect(peak).toBeLessThanOrEqual(4);
    expect(await verifyPassword("password-3", hashes[3]!)).toBe(true);
  } finally {
    (Bun.password as any).hash = original;
  }
});

describe("unknown user and wrong password are indistinguishable", () => {
  test("same status, body and headers (JSON and OAuth2 form)", async () => {
    const { api } = await fresh();
    const real = await api.newUser("enum");
    const strip = (h: Headers) => {
      const o: Record<string, string> = {};
      h.forEach((v, k) => (o[k] = v));
      // Per-response values: the date and the request id differ on every response by design.
      delete o.date;
      delete o["x-request-id"];
      return o;
    };
    const wrongPassword = await login(api, real.user.username, "wrong password!");
    const unknownUser = await login(api, "nobody_" + real.user.username, "wrong password!");
    const unknownEmail = await login(api, "nobody@example.com", "wrong password!");
    expect(wrongPassword.status).toBe(401);
    expectErrorBody(wrongPassword.body);
    for (const other of [unknownUser, unknownEmail]) {
      expect(other.status).toBe(wrongPassword.status);
      expect(other.body).toEqual(wrongPassword.body);
      expect(strip(other.headers)).toEqual(strip(wrongPassword.headers));
    }
    const form = (username: string) =>
      api.request("POST", "/api/v1/auth/login", { form: { username, password: "wrong password!", grant_type: "password" } });
    const [formWrong, formUnknown] = [await form(real.user.username), await form("nobody_" + real.user.username)];
    expect(formWrong.status).toBe(401);
    expect(formUnknown.status).toBe(401);
    expect(formUnknown.body).toEqual(formWrong.body);
    expect(strip(formUnknown.headers)).toEqual(strip(formWrong.headers));
  });
});

describe("login rate limits", () => {
  test("per account: the 11th attempt within a minute is 429 with Retry-After, even with the right password", async () => {
    const { api } = await fresh();
    const victim = await api.newUser("victim");
    // newUser's own successful login reset the account counter.
    for (let i = 0; i < 10; i++) expect((await login(api, victim.user.username, `guess-${i}-wrong`)).status).toBe(401);
    expect429(await login(api, victim.user.username, "guess-11-wrong"), "11th wrong guess");
    expect429(await login(api, victim.user.username, victim.password), "right password while limited");
    expect429(await login(api, victim.user.username.toUpperCase(), victim.password), "case variant of the name");
  });

  test("per account: changing the address (behind a trusted proxy) does not reset the account's budget", async () => {
    const { api } = await fresh({ trustProxy: true });
    const victim = await api.newUser("victim");
    for (let i = 0; i < 10; i++) {
      const res = await login(api, victim.user.username, `guess-${i}`, { "x-forwarded-for": `10.0.0.${i + 1}` });
      expect(res.status).toBe(401);
    }
    expect429(await login(api, victim.user.username, "guess", { "x-forwarded-for": "10.0.1.1" }));
  });

  test("per address: the 51st attempt from one address is 429, and X-Forwarded-For does not bypass it", async () => {
    const { api } = await fresh();
    const attempts = Array.from({ length: 50 }, (_, i) =>
      login(api, `spray_${i}`, "Password1!", { "x-forwarded-for": `203.0.113.${i + 1}` }),
    );
    for (const res of await Promise.all(attempts)) expect(res.status).toBe(401);
    expect429(await login(api, "spray_new", "Password1!", { "x-forwarded-for": "198.51.100.7" }), "spoofed XFF");
    expect429(await login(api, "spray_new2", "Password1!"), "no XFF");
  }, 30_000);

  test("with trustProxy, X-Forwarded-For is the address: different clients are counted apart", async () => {
    const { api } = await fresh({ trustProxy: true });
    const attempts = Array.from({ length: 60 }, (_, i) =>
      login(api, `spray_${i}`, "Password1!", { "x-forwarded-for": `203.0.113.${i + 1}, 10.0.0.1` }),
    );
    for (const res of await Promise.all(attempts)) expect(res.status).toBe(401);
    // …but one client behind the proxy is still limited.
    for (let i = 0; i < 50; i++) {
      const res = await login(api, `one_client_${i}`, "Password1!", { "x-forwarded-for": "192.0.2.9" });
      expect(res.status).toBe(401);
    }
    expect429(await login(api, "one_client_x", "Password1!", { "x-forwarded-for": "192.0.2.9" }));
  }, 30_000);

  test("rate limits can be turned off for trusted rigs (--rate-limit false)", async () => {
    const { api } = await fresh({ rateLimit: false });
    const victim = await api.newUser("victim");
    for (let i = 0; i < 12; i++) expect((await login(api, victim.user.username, `guess-${i}`)).status).toBe(401);
    expect((await login(api, victim.user.username, victim.password)).status).toBe(200);
  });
});

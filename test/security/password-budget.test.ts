// One password-guessing budget per account (issue 11.5): login by username, login by email and
// `current_password` on PUT /users/me all spend it; signups are limited per address (11.7).
import { describe, expect, test } from "bun:test";
import type { Api } from "../support/api";
import { expectErrorBody } from "../support/expect";
import { freshServers } from "../support/server";

const fresh = freshServers();

const login = (api: Api, username: string, password: string, headers: Record<string, string> = {}) =>
  api.request("POST", "/api/v1/auth/login", { body: { username, password }, headers });
const changePassword = (api: Api, token: string, current: string) =>
  api.put("/api/v1/users/me", { password: "a brand new password", current_password: current }, token);

function expect429(res: { status: number; body: unknown; headers: Headers }, label = "") {
  expect(res.status, label).toBe(429);
  expect(res.headers.get("retry-after"), label).toMatch(/^[1-9]\d*$/);
  expectErrorBody(res.body, label);
}

describe("one budget per account", () => {
  test("login by username and by email share it: 5 + 5 wrong, then the 11th by either is 429", async () => {
    const { api } = await fresh();
    const victim = await api.newUser("both");
    for (let i = 0; i < 5; i++) expect((await login(api, victim.user.username, `wrong-${i}`)).status).toBe(401);
    for (let i = 0; i < 5; i++) expect((await login(api, victim.user.email.toUpperCase(), `wrong-e${i}`)).status).toBe(401);
    expect429(await login(api, victim.user.email, "wrong-11"), "11th by email");
    expect429(await login(api, victim.user.username, victim.password), "right password by username while limited");
  });

  test("PUT /users/me current_password: 10 wrong are 403, the 11th is 429 (even the right one)", async () => {
    const { api } = await fresh();
    const me = await api.newUser("cur");
    for (let i = 0; i < 10; i++) {
      const res = await changePassword(api, me.token, `wrong-${i}`);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("wrong_password");
    }
    expect429(await changePassword(api, me.token, `wrong-10`), "11th guess");
    expect429(await changePassword(api, me.token, me.password), "right password while limited");
    // The same budget: logins for that account are limited too.
    expect429(await login(api, me.user.username, me.password), "login after the guesses");
    // Profile edits that check no password are not limited.
    expect((await api.put("/api/v1/users/me", { bio: "still here" }, me.token)).status).toBe(200);
  });

  test("wrong logins and wrong current_password add up", async () => {
    const { api } = await fresh();
    const me = await api.newUser("mix");
    for (let i = 0; i < 6; i++) expect((await login(api, me.user.username, `wrong-${i}`)).status).toBe(401);
    for (let i = 0; i < 4; i++) expect((await changePassword(api, me.token, `wrong-c${i}`)).status).toBe(403);
    expect429(await changePassword(api, me.token, me.password));
  });

  test("an unknown login keeps its own budget by text, and another account is unaffected", async () => {
    const { api } = await fresh();
    const bystander = await api.newUser("bystander");
    for (let i = 0; i < 10; i++) expect((await login(api, "nobody_here", `wrong-${i}`)).status).toBe(401);
    expect429(await login(api, "NOBODY_HERE", "wrong"));
    expect((await login(api, bystander.user.username, bystander.password)).status).toBe(200);
  });

  test("--rate-limit false lifts the current_password budget too", async () => {
    const { api } = await fresh({ rateLimit: false });
    const me = await api.newUser("off");
    for (let i = 0; i < 12; i++) expect((await changePassword(api, me.token, `wrong-${i}`)).status).toBe(403);
    expect((await changePassword(api, me.token, me.password)).status).toBe(200);
  });
});

describe("guessing cannot lock the owner out", () => {
  test("an address the account logged in from keeps its own count: the owner there still gets in, a new address does not", async () => {
    const { api } = await fresh({ trustProxy: true });
    const victim = await api.newUser("owner");
    const home = { "x-forwarded-for": "198.51.100.7" };
    expect((await login(api, victim.user.username, victim.password, home)).status).toBe(200);
    // Someone else guesses from elsewhere until the account's shared count is spent.
    for (let i = 0; i < 10; i++) expect((await login(api, victim.user.email, `guess-${i}`, { "x-forwarded-for": "203.0.113.9" })).status).toBe(401);
    expect429(await login(api, victim.user.username, "guess", { "x-forwarded-for": "203.0.113.10" }), "any unknown address");
    expect429(await login(api, victim.user.username, victim.password, { "x-forwarded-for": "192.0.2.1" }), "the owner at a new address");
    expect((await login(api, victim.user.username, victim.password, home)).status).toBe(200);
    // The known address is still limited on its own: ten wrong from there, then 429 even with the right one.
    for (let i = 0; i < 10; i++) expect((await login(api, victim.user.username, `typo-${i}`, home)).status).toBe(401);
    expect429(await login(api, victim.user.username, victim.password, home), "known address after its own ten");
  });
});

describe("email changes", () => {
  test("at most 10 tried per hour (a 409 tells an email is taken), then 429; other profile edits go on", async () => {
    const { api } = await fresh();
    const me = await api.newUser("mail");
    const taken = await api.newUser("taken");
    for (let i = 0; i < 10; i++) {
      const res = await api.put("/api/v1/users/me", { email: i % 2 ? taken.user.email : `probe${i}@example.com` }, me.token);
      expect(res.status).toBe(i % 2 ? 409 : 200);
    }
    expect429(await api.put("/api/v1/users/me", { email: "probe-last@example.com" }, me.token), "11th email change");
    expect((await api.put("/api/v1/users/me", { bio: "fine" }, me.token)).status).toBe(200);
    // Sending the email you already have is no change.
    const current = (await api.get("/api/v1/auth/me", me.token)).body.email;
    expect((await api.put("/api/v1/users/me", { email: current }, me.token)).status).toBe(200);
  });
});

describe("signups per address", () => {
  const signup = (api: Api, i: number, headers: Record<string, string> = {}) =>
    api.request("POST", "/api/v1/auth/signup", {
      body: { username: `many_${i}`, email: `many_${i}@example.com`, password: "long enough pw" },
      headers,
    });

  test("the 11th signup from one address within 10 minutes is 429 with Retry-After", async () => {
    const { api } = await fresh();
    for (let i = 0; i < 10; i++) expect((await signup(api, i)).status).toBe(201);
    const res = await signup(api, 10);
    expect429(res, "11th signup");
    expect(Number(res.headers.get("retry-after"))).toBeLessThanOrEqual(600);
    // Nothing was created for the refused one.
    expect((await login(api, "many_10", "long enough pw")).status).toBe(401);
  });

  test("behind a trusted proxy, different clients are counted apart", async () => {
    const { api } = await fresh({ trustProxy: true });
    for (let i = 0; i < 10; i++) expect((await signup(api, i, { "x-forwarded-for": "198.51.100.1" })).status).toBe(201);
    expect429(await signup(api, 10, { "x-forwarded-for": "198.51.100.1" }));
    expect((await signup(api, 11, { "x-forwarded-for": "198.51.100.2" })).status).toBe(201);
  });

  test("--rate-limit false lifts it", async () => {
    const { api } = await fresh({ rateLimit: false });
    for (let i = 0; i < 12; i++) expect((await signup(api, i)).status).toBe(201);
  });
});

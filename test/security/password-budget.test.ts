// One password-guessing budget per account (issue 11.5): login by username, login by email and
// `current_password` on PUT /users/me all spend it; signups are limited per address (11.7).
import { describe, expect, test } from "bun:test";
import type { Api } from "../support/api";
import { expectErrorBody } from "../support/expect";
import { freshServers } from "../support/server";

const fresh = freshServers();

const login = (api: Api, username: string, password: string) => api.post("/api/v1/auth/login", { username, password });
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

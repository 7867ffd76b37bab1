// Shared pieces of the REST contract suite: error-shape checks, view-shape checks, hand-made tokens and seeding.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "bun:test";
import { SignJWT } from "jose";
import { users } from "../../src/db/schema";
import { client, type ApiResponse, type TestServer } from "../helpers";

export type Api = ReturnType<typeof client>;
export type TestUser = { user: { id: string; username: string; email: string } & Record<string, any>; token: string; password: string };

export const API = "/api/v1";
export const ISO_MS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const randomUuid = () => crypto.randomUUID();

/** Things a response must never show: stack frames, source paths, engine names. */
const LEAKS = [/\bat .+:\d+:\d+/, /\/(work|home|tmp|src|node_modules)\//, /\.(ts|js):\d+/, /SQLITE_/, /sqlite/i, /\b(Type|Reference|Range|Syntax)Error\b/];

/** The contract's error: exactly {detail, code}, both non-empty strings, no internals. */
export function expectErrorBody(body: unknown, context = "") {
  expect(body, context).toBeObject();
  const b = body as Record<string, unknown>;
  expect(Object.keys(b).sort(), context).toEqual(["code", "detail"]);
  expect(typeof b.detail, context).toBe("string");
  expect(typeof b.code, context).toBe("string");
  expect((b.detail as string).length, context).toBeGreaterThan(0);
  expect((b.code as string).length, context).toBeGreaterThan(0);
  const text = JSON.stringify(b);
  for (const re of LEAKS) expect(re.test(text), `${context} leaks ${re}: ${text}`).toBe(false);
}

/** Status, contract body, and (for 422) that `detail` names the field. */
export function expectError(res: ApiResponse, status: number, opts: { code?: string; field?: string; context?: string } = {}) {
  const context = `${opts.context ?? ""} ${JSON.stringify(res.body)}`;
  expect(res.status, context).toBe(status);
  expect(res.headers.get("content-type") ?? "", context).toContain("application/json");
  expectErrorBody(res.body, context);
  if (opts.code) expect(res.body.code, context).toBe(opts.code);
  if (opts.field) expect(res.body.detail, context).toContain(opts.field);
  if (status === 401) expect(res.headers.get("www-authenticate") ?? "", context).toMatch(/^Bearer/);
}

const USER_KEYS = ["avatar_url", "bio", "created_at", "full_name", "id", "is_online", "last_seen_at", "updated_at", "username"];

/** A User object per the contract; `email` only when it is the caller's own. */
export function expectUserView(u: any, self: boolean) {
  expect(Object.keys(u).sort()).toEqual((self ? [...USER_KEYS, "email"] : USER_KEYS).sort());
  expect(u.id).toMatch(UUID);
  expect(u.created_at).toMatch(ISO_MS_Z);
  expect(u.updated_at).toMatch(ISO_MS_Z);
  expect(typeof u.is_online).toBe("boolean");
  if (u.last_seen_at !== null) expect(u.last_seen_at).toMatch(ISO_MS_Z);
}

const MESSAGE_KEYS = ["client_msg_id", "content", "conversation_id", "created_at", "id", "is_read", "recipient_id", "sender_id", "seq", "updated_at"];

export function expectMessageView(m: any) {
  expect(Object.keys(m).sort()).toEqual(MESSAGE_KEYS);
  expect(m.id).toMatch(UUID);
  expect(m.conversation_id).toMatch(UUID);
  expect(m.sender_id).toMatch(UUID);
  expect(Number.isInteger(m.seq) && m.seq >= 1).toBe(true);
  expect(typeof m.is_read).toBe("boolean");
  expect(m.created_at).toMatch(ISO_MS_Z);
  expect(m.updated_at).toMatch(ISO_MS_Z);
}

// member_count is an addition to v1's Conversation (a v1 client ignores it); everything else is v1.
const CONVERSATION_KEYS = ["created_at", "created_by", "id", "is_group", "last_message", "member_count", "name", "participants", "unread_count", "updated_at"];

export function expectConversationView(c: any, me: string) {
  expect(Object.keys(c).sort()).toEqual(CONVERSATION_KEYS);
  expect(c.id).toMatch(UUID);
  expect(c.created_at).toMatch(ISO_MS_Z);
  expect(c.updated_at).toMatch(ISO_MS_Z);
  expect(Number.isInteger(c.unread_count) && c.unread_count >= 0).toBe(true);
  for (const p of c.participants) expectUserView(p, p.id === me);
  expect(c.participants.some((p: { id: string }) => p.id === me)).toBe(true);
  expect(c.member_count).toBeGreaterThanOrEqual(c.participants.length);
  // Only the list caps participants, and only for groups of more than 10 (the 10 first and the caller).
  if (c.member_count <= 10) expect(c.participants).toHaveLength(c.member_count);
  if (c.last_message !== null) expectMessageView(c.last_message);
}

/** A token signed with the server's own secret, with claims overridden (null drops one). */
export async function craftToken(server: TestServer, claims: Record<string, unknown>, secret?: string): Promise<string> {
  const key = new TextEncoder().encode(secret ?? readFileSync(join(server.dataDir, "jwt-secret"), "utf8").trim());
  const nowS = Math.floor(Date.now() / 1000);
  const all: Record<string, unknown> = { iss: "chat-server", ver: 0, iat: nowS, exp: nowS + 3600, ...claims };
  for (const [k, v] of Object.entries(all)) if (v === null) delete all[k];
  return new SignJWT(all).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(key);
}

/**
 * Inserts users straight into the database (no password hashing), for pagination tests that need
 * more users than is reasonable to sign up one by one. They cannot log in.
 */
export function seedUsers(server: TestServer, prefix: string, count: number): { id: string; username: string }[] {
  const at = Date.now();
  const rows = Array.from({ length: count }, (_, i) => {
    const username = `${prefix}${String(i).padStart(3, "0")}`;
    return {
      id: Bun.randomUUIDv7(),
      username,
      usernameKey: username.toLowerCase(),
      email: `${username}@seed.example`,
      emailKey: `${username}@seed.example`.toLowerCase(),
      passwordHash: "!",
      fullName: null,
      fullNameKey: null,
      createdAt: at,
      updatedAt: at,
    };
  });
  server.db.insert(users).values(rows).run();
  return rows.map((r) => ({ id: r.id, username: r.username }));
}

/** A short unique lowercase tag, so each test's search terms only match its own users. */
export const tag = () => "t" + Bun.randomUUIDv7().replaceAll("-", "").slice(-10);

export const PASSWORD = "correct horse battery";

/** Signs up a user with a chosen username (and full name) and logs in. */
export async function userNamed(api: Api, username: string, fullName?: string | null): Promise<TestUser> {
  const signup = await api.post(`${API}/auth/signup`, {
    username,
    email: `${username}@example.com`,
    password: PASSWORD,
    ...(fullName === undefined ? {} : { full_name: fullName }),
  });
  if (signup.status !== 201) throw new Error(`signup ${username}: ${signup.status} ${JSON.stringify(signup.body)}`);
  const login = await api.post(`${API}/auth/login`, { username, password: PASSWORD });
  if (login.status !== 200) throw new Error(`login ${username}: ${login.status} ${JSON.stringify(login.body)}`);
  return { user: signup.body, token: login.body.access_token, password: PASSWORD };
}

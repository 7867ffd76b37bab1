// Contract-shape checks shared by every suite: the {detail, code} error body, what a response must never
// leak, timestamps and ids, and the exact keys of the User, Message and Conversation views.
import { expect } from "bun:test";
import { ConversationView } from "../../src/modules/conversations/model";
import { MessageView } from "../../src/modules/messages/model";
import type { ApiResponse } from "./api";

/** The contract's timestamps: ISO 8601 in UTC with milliseconds. */
export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Things a response must never show: stack frames, source paths, engine names and errors. */
const LEAKS = [
  /\bat .+:\d+:\d+/, // stack frame
  /\/(work|home|tmp|src|node_modules|root)\//,
  /\.(ts|js):\d+/,
  /SQLITE_/,
  /sqlite/i,
  /TypeError|ReferenceError|RangeError|SyntaxError/,
];

export function expectNoLeak(text: string, context = "") {
  for (const re of LEAKS) {
    if (re.test(text)) throw new Error(`response leaks internals (${re}) ${context}: ${text.slice(0, 400)}`);
  }
}

/** The contract's error: exactly {detail, code}, both non-empty strings, no internals. */
export function expectErrorBody(body: unknown, context = "") {
  expect(body, context).toBeObject();
  const b = body as Record<string, unknown>;
  if (typeof b.detail !== "string" || typeof b.code !== "string" || !b.detail || !b.code) {
    throw new Error(`not a contract error body ${context}: ${JSON.stringify(body).slice(0, 300)}`);
  }
  expect(Object.keys(b).sort(), context).toEqual(["code", "detail"]);
  expectNoLeak(JSON.stringify(b), context);
}

/** Status, JSON content type, contract body, and (for 422) that `detail` names the field. */
export function expectError(res: ApiResponse, status: number, opts: { code?: string; field?: string; context?: string } = {}) {
  const context = `${opts.context ?? ""} ${JSON.stringify(res.body)}`;
  expect(res.status, context).toBe(status);
  expect(res.headers.get("content-type") ?? "", context).toContain("application/json");
  expectErrorBody(res.body, context);
  if (opts.code) expect(res.body.code, context).toBe(opts.code);
  if (opts.field) expect(res.body.detail, context).toContain(opts.field);
  if (status === 401) expect(res.headers.get("www-authenticate") ?? "", context).toMatch(/^Bearer/);
}

/** An object with exactly these keys, no more and no fewer. */
export function expectExactKeys(value: unknown, keys: readonly string[], context = "") {
  expect(value, context).toBeObject();
  expect(Object.keys(value as object).sort(), context).toEqual([...keys].sort());
}

const USER_KEYS = ["avatar_url", "bio", "created_at", "full_name", "id", "is_bot", "is_online", "last_seen_at", "updated_at", "username"];

/** A User object per the contract; `email` only when it is the caller's own. */
export function expectUserView(u: any, self: boolean) {
  expectExactKeys(u, self ? [...USER_KEYS, "email"] : USER_KEYS);
  expect(u.id).toMatch(UUID);
  expect(u.created_at).toMatch(ISO_MS);
  expect(u.updated_at).toMatch(ISO_MS);
  expect(typeof u.is_online).toBe("boolean");
  if (u.last_seen_at !== null) expect(u.last_seen_at).toMatch(ISO_MS);
}

/** v1's Message; v2 adds fields (rev, edits, reactions, …) that the schema lists and v1 clients ignore. */
const MESSAGE_V1_KEYS = ["client_msg_id", "content", "conversation_id", "created_at", "id", "is_read", "recipient_id", "sender_id", "seq", "updated_at"];
const MESSAGE_KEYS = Object.keys(MessageView.properties);

export function expectMessageView(m: any) {
  for (const key of MESSAGE_V1_KEYS) expect(MESSAGE_KEYS).toContain(key);
  expectExactKeys(m, MESSAGE_KEYS);
  expect(Number.isInteger(m.rev) && m.rev >= 1).toBe(true);
  expect(m.id).toMatch(UUID);
  expect(m.conversation_id).toMatch(UUID);
  expect(m.sender_id).toMatch(UUID);
  expect(Number.isInteger(m.seq) && m.seq >= 1).toBe(true);
  expect(typeof m.is_read).toBe("boolean");
  expect(m.created_at).toMatch(ISO_MS);
  expect(m.updated_at).toMatch(ISO_MS);
  expect(Array.isArray(m.attachments)).toBe(true);
}

// v2 adds fields to v1's Conversation (member_count, rev, members, …) that a v1 client ignores.
const CONVERSATION_V1_KEYS = ["created_at", "created_by", "id", "is_group", "last_message", "name", "participants", "unread_count", "updated_at"];
const CONVERSATION_KEYS = Object.keys(ConversationView.properties);

export function expectConversationView(c: any, me: string) {
  for (const key of CONVERSATION_V1_KEYS) expect(CONVERSATION_KEYS).toContain(key);
  expectExactKeys(c, CONVERSATION_KEYS);
  expect(c.id).toMatch(UUID);
  expect(c.created_at).toMatch(ISO_MS);
  expect(c.updated_at).toMatch(ISO_MS);
  expect(Number.isInteger(c.unread_count) && c.unread_count >= 0).toBe(true);
  for (const p of c.participants) expectUserView(p, p.id === me);
  expect(c.participants.some((p: { id: string }) => p.id === me)).toBe(true);
  expect(c.member_count).toBeGreaterThanOrEqual(c.participants.length);
  // Only the list caps participants, and only for groups of more than 10 (the 10 first and the caller).
  if (c.member_count <= 10) expect(c.participants).toHaveLength(c.member_count);
  if (c.last_message !== null) expectMessageView(c.last_message);
}

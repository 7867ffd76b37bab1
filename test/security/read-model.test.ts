// Model-based test of read cursors and unread counts: random sequences of create conversation, send,
// mark read, count and list run against the real server and a tiny in-memory model, which must agree.
import { afterAll, beforeAll, expect, test } from "bun:test";
import fc from "fast-check";
import { type Api, client } from "../support/api";
import { propertyParams } from "../support/property";
import { integrityOk, startTestServer, type TestServer } from "../support/server";
import { craftToken, secretOf } from "../support/tokens";

const USERS = 3;
const RUNS = Number(process.env.MODEL_RUNS ?? 40);

let server: TestServer;
let api: Api;
let secret: Uint8Array;
let runNo = 0;

beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
  secret = secretOf(server);
});
afterAll(() => server.close());

interface ModelConversation {
  members: number[];
  isGroup: boolean;
  /** Sender of each message; index i holds seq i+1. */
  senders: number[];
  cursors: Map<number, number>;
}
interface Model {
  conversations: ModelConversation[];
}
interface Real {
  ids: string[];
  tokens: string[];
  conversationIds: string[];
  messageIds: string[][];
}

/** Users go straight into the database with a hand-signed token: the model is about cursors, not logins. */
async function freshUsers(): Promise<{ ids: string[]; tokens: string[] }> {
  const run = ++runNo;
  const ids: string[] = [];
  const tokens: string[] = [];
  for (let i = 0; i < USERS; i++) {
    const id = Bun.randomUUIDv7();
    const name = `model_${run}_${i}`;
    server.db.$client.run(
      "INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at, token_version) VALUES (?, ?, ?, ?, ?, 'x', 0, 0, 0)",
      [id, name, name, `${name}@example.com`, `${name}@example.com`],
    );
    ids.push(id);
    tokens.push(await craftToken(secret, { sub: id }));
  }
  return { ids, tokens };
}

const unreadFor = (c: ModelConversation, user: number) => {
  const cursor = c.cursors.get(user) ?? 0;
  return c.senders.filter((s, i) => s !== user && i + 1 > cursor).length;
};
const isReadFor = (c: ModelConversation, user: number, seq: number) => {
  if (c.senders[seq - 1] !== user) return (c.cursors.get(user) ?? 0) >= seq;
  const others = c.members.filter((m) => m !== user);
  return others.every((m) => (c.cursors.get(m) ?? 0) >= seq);
};

class CreateConversation implements fc.AsyncCommand<Model, Real> {
  constructor(readonly creator: number, readonly others: number[], readonly isGroup: boolean) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const others = [...new Set(this.others)].filter((o) => o !== this.creator);
    const body = this.isGroup
      ? { participant_ids: others.map((o) => r.ids[o]), name: "group", is_group: true }
      : { participant_ids: others.map((o) => r.ids[o]) };
    const res = await api.request("POST", "/api/v1/conversations", { token: r.tokens[this.creator], body });
    if (others.length === 0 || (!this.isGroup && others.length !== 1)) {
      expect(res.status).toBe(422);
      return;
    }
    const members = [this.creator, ...others].sort();
    if (!this.isGroup) {
      const existing = m.conversations.findIndex((c) => !c.isGroup && c.members.join() === members.join());
      if (existing >= 0) {
        expect(res.status).toBe(200);
        expect(res.body.id).toBe(r.conversationIds[existing]);
        return;
      }
    }
    expect(res.status).toBe(201);
    m.conversations.push({ members, isGroup: this.isGroup, senders: [], cursors: new Map(members.map((u) => [u, 0])) });
    r.conversationIds.push(res.body.id);
    r.messageIds.push([]);
  }
  toString = () => `create(${this.creator} → [${this.others}], group=${this.isGroup})`;
}

class Send implements fc.AsyncCommand<Model, Real> {
  constructor(readonly sender: number, readonly conversation: number) {}
  check = (m: Readonly<Model>) => m.conversations.length > 0;
  async run(m: Model, r: Real) {
    const ci = this.conversation % m.conversations.length;
    const c = m.conversations[ci]!;
    const res = await api.send(r.tokens[this.sender]!, r.conversationIds[ci]!, `message ${c.senders.length + 1}`);
    if (!c.members.includes(this.sender)) {
      expect(res.status).toBe(404);
      return;
    }
    expect(res.status).toBe(201);
    c.senders.push(this.sender);
    expect(res.body.seq).toBe(c.senders.length);
    r.messageIds[ci]!.push(res.body.id);
  }
  toString = () => `send(${this.sender} → c${this.conversation})`;
}

class MarkRead implements fc.AsyncCommand<Model, Real> {
  constructor(readonly user: number, readonly conversation: number, readonly message: number) {}
  check = (m: Readonly<Model>) => m.conversations.some((c) => c.senders.length > 0);
  async run(m: Model, r: Real) {
    const withMessages = m.conversations.map((c, i) => [c, i] as const).filter(([c]) => c.senders.length > 0);
    const [c, ci] = withMessages[this.conversation % withMessages.length]!;
    const mi = this.message % c.senders.length;
    const res = await api.put(`/api/v1/messages/${r.messageIds[ci]![mi]}/read`, {}, r.tokens[this.user]);
    if (!c.members.includes(this.user)) {
      expect(res.status).toBe(404);
      return;
    }
    expect(res.status).toBe(200);
    const cursor = Math.max(c.cursors.get(this.user) ?? 0, mi + 1);
    c.cursors.set(this.user, cursor);
    expect(res.body.last_read_seq).toBe(cursor);
    expect(res.body.conversation_id).toBe(r.conversationIds[ci]);
  }
  toString = () => `read(${this.user}, c${this.conversation}, m${this.message})`;
}

class Count implements fc.AsyncCommand<Model, Real> {
  constructor(readonly user: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const res = await api.get("/api/v1/messages/unread/count", r.tokens[this.user]);
    expect(res.status).toBe(200);
    const expected = m.conversations
      .map((c, i) => ({ conversation_id: r.conversationIds[i]!, unread_count: c.members.includes(this.user) ? unreadFor(c, this.user) : 0, mention_count: 0, muted: false }))
      .filter((x) => x.unread_count > 0)
      .sort((a, b) => (a.conversation_id < b.conversation_id ? -1 : 1));
    expect(res.body.conversations).toEqual(expected);
    expect(res.body.unread_count).toBe(expected.reduce((s, x) => s + x.unread_count, 0));
  }
  toString = () => `count(${this.user})`;
}

class List implements fc.AsyncCommand<Model, Real> {
  constructor(readonly user: number, readonly conversation: number, readonly mode: "latest" | "after" | "before", readonly at: number, readonly limit: number) {}
  check = (m: Readonly<Model>) => m.conversations.length > 0;
  async run(m: Model, r: Real) {
    const ci = this.conversation % m.conversations.length;
    const c = m.conversations[ci]!;
    const n = c.senders.length;
    const at = this.at % (n + 2);
    const query = this.mode === "latest" ? "" : `&${this.mode}=${at}`;
    const res = await api.get(`/api/v1/conversations/${r.conversationIds[ci]}/messages?limit=${this.limit}${query}`, r.tokens[this.user]);
    if (!c.members.includes(this.user)) {
      expect(res.status).toBe(404);
      return;
    }
    expect(res.status).toBe(200);
    const all = Array.from({ length: n }, (_, i) => i + 1);
    const seqs =
      this.mode === "after"
        ? all.filter((s) => s > at).slice(0, this.limit)
        : (this.mode === "before" ? all.filter((s) => s < at) : all).slice(-this.limit);
    expect(res.body.map((x: any) => x.seq)).toEqual(seqs);
    expect(res.body.map((x: any) => x.is_read)).toEqual(seqs.map((s) => isReadFor(c, this.user, s)));
    expect(res.body.map((x: any) => x.sender_id)).toEqual(seqs.map((s) => r.ids[c.senders[s - 1]!]));
    const view = await api.get(`/api/v1/conversations/${r.conversationIds[ci]}`, r.tokens[this.user]);
    expect(view.body.unread_count).toBe(unreadFor(c, this.user));
    expect(view.body.last_message?.seq ?? 0).toBe(n);
  }
  toString = () => `list(${this.user}, c${this.conversation}, ${this.mode} ${this.at}, limit ${this.limit})`;
}

const user = fc.nat({ max: USERS - 1 });
const commands = [
  fc.tuple(user, fc.array(user, { minLength: 0, maxLength: 3 }), fc.boolean()).map(([c, o, g]) => new CreateConversation(c, o, g)),
  fc.tuple(user, fc.nat()).map(([u, c]) => new Send(u, c)),
  fc.tuple(user, fc.nat()).map(([u, c]) => new Send(u, c)),
  fc.tuple(user, fc.nat(), fc.nat()).map(([u, c, i]) => new MarkRead(u, c, i)),
  user.map((u) => new Count(u)),
  fc.tuple(user, fc.nat(), fc.constantFrom("latest", "after", "before" as const), fc.nat(), fc.integer({ min: 1, max: 5 })).map(
    ([u, c, mode, at, limit]) => new List(u, c, mode as "latest" | "after" | "before", at, limit),
  ),
];

test("read cursors and unread counts match an in-memory model over random command sequences", async () => {
  await fc.assert(
    fc.asyncProperty(fc.commands(commands, { maxCommands: 60, size: "max" }), async (cmds) => {
      const { ids, tokens } = await freshUsers();
      await fc.asyncModelRun(() => ({ model: { conversations: [] }, real: { ids, tokens, conversationIds: [], messageIds: [] } }), cmds);
    }),
    propertyParams("read model", { numRuns: RUNS }),
  );
  expect(integrityOk(server)).toBe(true);
}, 60_000);

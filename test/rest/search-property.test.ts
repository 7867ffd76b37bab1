// Property: whatever string a client sends as q (FTS5 syntax, quotes, operators, any Unicode), search
// answers 200 or a 422 naming q, never a 5xx, and never returns a message of a conversation the
// caller is not in, although the other conversations are full of the same words.
import { afterAll, beforeAll, expect, test } from "bun:test";
import fc from "fast-check";
import { API, type Api, client, type TestUser } from "../support/api";
import { expectErrorBody } from "../support/expect";
import { propertyParams } from "../support/property";
import { startTestServer, type TestServer } from "../support/server";

let server: TestServer;
let api: Api;
let alice: TestUser;
const mine = new Set<string>();
const WORDS = ["hello", "world", "near", "or", "and", "not", "content", "café", "secret", "hel", "x", "naïve", "日本"];

beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
  const [a, b, c] = await Promise.all([api.newUser("pa"), api.newUser("pb"), api.newUser("pc")]);
  alice = a;
  const own = (await api.dm(a.token, b.user.id)).body.id as string;
  const foreign = [(await api.dm(b.token, c.user.id)).body.id as string, (await api.group(c.token, "g", [b.user.id])).body.id as string];
  mine.add(own);
  // Every word in every conversation, so any query that matches alice's messages matches others' too.
  for (let i = 0; i < WORDS.length; i++) {
    const text = `${WORDS.slice(i).join(" ")} ${WORDS.slice(0, i).join(" ")} "quoted" (paren) -minus ^caret content:col`;
    await api.send(a.token, own, text);
    for (const id of foreign) await api.send(c.token, id, text);
  }
});
afterAll(() => server.close());

const syntax = fc.constantFrom(...WORDS, '"', "*", "(", ")", "-", "+", "^", ":", "NEAR", "NEAR(", "OR", "AND", "NOT", "content:", "{", "}", ",", "\\", "'", "\u0000", "\uE000", "\ud800");
const fragment = fc.oneof(
  syntax,
  fc.string({ maxLength: 6 }),
  fc.string({ unit: "grapheme", maxLength: 4 }),
  fc.string({ unit: "binary", maxLength: 4 }),
);
const joined = (parts: fc.Arbitrary<string>) =>
  fc.tuple(fc.array(parts, { maxLength: 10 }), fc.constantFrom(" ", "")).map(([list, separator]) => list.join(separator));
// Mostly our words among operators (queries that do match), and some of anything at all.
const query = fc.oneof(
  { arbitrary: joined(syntax), weight: 3 },
  { arbitrary: joined(fragment), weight: 1 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 40 }), weight: 1 },
);

test("any q: 200 with only the caller's messages, or a 422 naming q; never a 5xx", async () => {
  let found = 0;
  await fc.assert(
    fc.asyncProperty(query, fc.option(fc.constantFrom("1", "5", "100"), { nil: undefined }), async (q, limit) => {
      const params = new URLSearchParams({ q, ...(limit ? { limit } : {}) });
      const res = await api.get(`${API}/search/messages?${params}`, alice.token);
      const context = `q=${JSON.stringify(q)}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
      if (res.status === 200) {
        for (const r of res.body.results) expect(mine.has(r.message.conversation_id), context).toBe(true);
        if (res.body.results.length) found++;
      } else {
        expect(res.status, context).toBe(422);
        expectErrorBody(res.body, context);
        expect(res.body.code, context).toBe("validation_error");
        expect(res.body.detail, context).toMatch(/^q\b/);
      }
    }),
    propertyParams("search q", { numRuns: 300 }),
  );
  // Not vacuous: many of those queries did match (alice's copies, and only those).
  expect(found).toBeGreaterThan(10);
});

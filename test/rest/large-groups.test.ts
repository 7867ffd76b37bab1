// Consent and amplification (issue 11.6): group creation is rate-limited per creator, the list
// summarises big groups (member_count and the first members) while GET /{id} lists everyone, and
// large JSON is gzipped for clients that accept it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { API, type Api, client } from "../support/api";
import { expectConversationView } from "../support/expect";
import { rawRequest } from "../support/raw-http";
import { seedUsers, startTestServer, type TestServer } from "../support/server";
import { craftToken } from "../support/tokens";

let server: TestServer;
let api: Api;

beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

describe("GET /conversations summarises large groups", () => {
  test("a 1000-member group lists 10 participants and the caller, with member_count; GET /{id} lists all", async () => {
    const me = await api.newUser("big");
    const others = await seedUsers(server, `big${Date.now().toString(36)}_`, 1000);
    const group = await api.group(me.token, "everyone", others.map((o) => o.id));
    expect(group.status).toBe(201);
    expect(group.body.member_count).toBe(1001);
    expect(group.body.participants).toHaveLength(1001);

    const list = await api.get(`${API}/conversations`, me.token);
    expect(list.status).toBe(200);
    const listed = list.body.find((c: { id: string }) => c.id === group.body.id);
    expectConversationView(listed, me.user.id);
    expect(listed.member_count).toBe(1001);
    expect(listed.participants.length).toBeLessThanOrEqual(11);
    expect(listed.participants.some((p: { id: string }) => p.id === me.user.id)).toBe(true);
    // The first members in the same order as the full view.
    const full = await api.get(`${API}/conversations/${group.body.id}`, me.token);
    expect(full.body.participants).toHaveLength(1001);
    expect(full.body.member_count).toBe(1001);
    const firstTen = full.body.participants.slice(0, 10).map((p: { id: string }) => p.id);
    expect(listed.participants.slice(0, 10).map((p: { id: string }) => p.id)).toEqual(firstTen);

    // A member who joined late (not among the first ten) still sees themselves.
    const lastId = full.body.participants[1000].id;
    expect(firstTen).not.toContain(lastId);
    const lastToken = await craftToken(server, { sub: lastId });
    const theirs = (await api.get(`${API}/conversations`, lastToken)).body.find((c: { id: string }) => c.id === group.body.id);
    expectConversationView(theirs, lastId);
    expect(theirs.participants).toHaveLength(11);
    expect(theirs.participants[10].id).toBe(lastId);

    // The list's size no longer grows with the group: 11 such groups used to weigh 2.5 MB.
    const bytes = JSON.stringify(list.body).length;
    expect(bytes).toBeLessThan(10_000);
  });

  test("a DM and a group of 10 look exactly as in GET /{id}", async () => {
    const me = await api.newUser("small");
    const other = await api.newUser("small");
    const nine = await seedUsers(server, `sm${Date.now().toString(36)}_`, 8);
    const dm = await api.dm(me.token, other.user.id);
    const group = await api.group(me.token, "ten", [other.user.id, ...nine.map((n) => n.id)]);
    expect(group.body.member_count).toBe(10);
    const list = await api.get(`${API}/conversations`, me.token);
    for (const id of [dm.body.id, group.body.id]) {
      const listed = list.body.find((c: { id: string }) => c.id === id);
      const single = await api.get(`${API}/conversations/${id}`, me.token);
      expect(listed).toEqual(single.body);
      expectConversationView(listed, me.user.id);
    }
    expect(list.body.find((c: { id: string }) => c.id === dm.body.id).member_count).toBe(2);
  });
});

describe("group creation is rate-limited per creator", () => {
  test("the 11th group within an hour is 429 with Retry-After; DMs and other creators are unaffected", async () => {
    const limited = await startTestServer();
    try {
      const lapi = client(limited.url);
      const [a, b, c] = [await lapi.newUser("rl"), await lapi.newUser("rl"), await lapi.newUser("rl")];
      for (let i = 0; i < 10; i++) expect((await lapi.group(a.token, `g${i}`, [b.user.id])).status).toBe(201);
      const refused = await lapi.group(a.token, "one too many", [b.user.id]);
      expect(refused.status).toBe(429);
      expect(refused.body.code).toBe("rate_limited");
      const retryAfter = Number(refused.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(3600);
      // Nothing was created: b is in exactly ten groups from a.
      const bList = await lapi.get(`${API}/conversations`, b.token);
      expect(bList.body.filter((conv: { is_group: boolean }) => conv.is_group)).toHaveLength(10);
      expect((await lapi.dm(a.token, c.user.id)).status).toBe(201);
      expect((await lapi.group(b.token, "b's own", [a.user.id])).status).toBe(201);
    } finally {
      await limited.close();
    }
  });

  test("--rate-limit false lifts it", async () => {
    const a = await api.newUser("nolimit");
    const b = await api.newUser("nolimit");
    for (let i = 0; i < 12; i++) expect((await api.group(a.token, `g${i}`, [b.user.id])).status).toBe(201);
  });
});

describe("compression", () => {
  let token: string;
  beforeAll(async () => {
    const me = await api.newUser("gz");
    token = me.token;
    await api.group(me.token, "gz group", (await seedUsers(server, `gz${Date.now().toString(36)}_`, 200)).map((u) => u.id));
  });

  const get = (path: string, acceptEncoding: string | null) =>
    fetch(server.url + path, {
      headers: { authorization: `Bearer ${token}`, ...(acceptEncoding === null ? {} : { "accept-encoding": acceptEncoding }) },
      decompress: false,
    } as RequestInit);

  const decoders = { gzip: gunzipSync, br: brotliDecompressSync };
  for (const [accept, coding] of [["gzip, deflate", "gzip"], ["gzip, deflate, br", "br"], ["br;q=0, gzip", "gzip"]] as const) {
    test(`JSON over 1 KiB is compressed (Accept-Encoding: ${accept} -> ${coding}), with Vary, and decodes to the same body`, async () => {
      const plain = await get(`${API}/users?limit=100`, "identity");
      expect(plain.headers.get("content-encoding")).toBeNull();
      const plainText = await plain.text();
      expect(plainText.length).toBeGreaterThan(1024);
      const packed = await get(`${API}/users?limit=100`, accept);
      expect(packed.headers.get("content-encoding")).toBe(coding);
      expect(packed.headers.get("vary")?.toLowerCase()).toContain("accept-encoding");
      expect(packed.headers.get("content-type")).toStartWith("application/json");
      const bytes = new Uint8Array(await packed.arrayBuffer());
      expect(bytes.length).toBeLessThan(plainText.length / 2);
      expect(JSON.parse(decoders[coding](bytes).toString("utf8"))).toEqual(JSON.parse(plainText));
    });
  }

  test("not compressed: without Accept-Encoding, with gzip;q=0, and for small bodies", async () => {
    const me = await rawRequest(server.port, {
      path: `${API}/conversations/${(await api.get(`${API}/conversations`, token)).body[0].id}`,
      host: "localhost",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(me.status).toBe(200);
    expect(me.headers["content-encoding"]).toBeUndefined();
    expect(JSON.parse(me.body).member_count).toBe(201);
    expect((await get(`${API}/users?limit=100`, "gzip;q=0")).headers.get("content-encoding")).toBeNull();
    const small = await get(`${API}/auth/me`, "gzip");
    expect(small.headers.get("content-encoding")).toBeNull();
    expect((await small.json()).username).toStartWith("gz");
  });

  test("the message page is compressed only when accepted", async () => {
    const conv = (await api.get(`${API}/conversations`, token)).body[0].id;
    for (let i = 0; i < 30; i++) await api.send(token, conv, `message number ${i} with some padding to make the page large`);
    const page = await get(`${API}/conversations/${conv}/messages?limit=30`, "gzip");
    expect(page.headers.get("content-encoding")).toBe("gzip");
    expect(JSON.parse(gunzipSync(new Uint8Array(await page.arrayBuffer())).toString("utf8"))).toHaveLength(30);
    const raw = await rawRequest(server.port, { path: `${API}/conversations/${conv}/messages?limit=30`, host: "localhost", headers: { authorization: `Bearer ${token}` } });
    expect(raw.headers["content-encoding"]).toBeUndefined();
    expect(JSON.parse(raw.body)).toHaveLength(30);
  });
});

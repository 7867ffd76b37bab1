// The SDK's browser bundle: the committed src/web/client.js is what `bun run build:client` makes from
// client/ now (a stale one would serve yesterday's reconnect loop), and the server hands it out at
// /client.js with its ETag, gzip and a CORS header so apps on other origins can import it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { BUNDLE_PATH, bundleClient } from "../../scripts/build-client";
import { startTestServer, type TestServer } from "../support/server";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

test("the committed src/web/client.js is current with client/ (else: bun run build:client)", async () => {
  expect(await Bun.file(BUNDLE_PATH).text()).toBe(await bundleClient());
});

test("GET /client.js serves the bundle as a cacheable, cross-origin loadable module", async () => {
  const committed = await Bun.file(BUNDLE_PATH).text();
  const res = await fetch(`${server.url}/client.js`, { headers: { "accept-encoding": "identity" } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
  expect(res.headers.get("access-control-allow-origin")).toBe("*");
  expect(await res.text()).toBe(committed);
  expect(committed).toContain("export {");
  expect(committed).toContain("createChatClient");

  const etag = res.headers.get("etag")!;
  const again = await fetch(`${server.url}/client.js`, { headers: { "if-none-match": etag } });
  expect(again.status).toBe(304);
  const zipped = await fetch(`${server.url}/client.js`, { headers: { "accept-encoding": "gzip" }, decompress: false });
  expect(zipped.headers.get("content-encoding")).toBe("gzip");
  expect(new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(await zipped.arrayBuffer())))).toBe(committed);
});

// Cross-site socket hijacking: with an Origin allow-list a foreign page cannot open a socket, and a
// browser's ambient cookies never authenticate one (nor a REST call).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Api, client } from "../support/api";
import { expectErrorBody } from "../support/expect";
import { startTestServer, type TestServer } from "../support/server";
import { rawSocket } from "../support/socket";

let server: TestServer;
let api: Api;
let token: string;
const ALLOWED = "https://chat.example.com";

beforeAll(async () => {
  server = await startTestServer({ allowedOrigins: [ALLOWED, "http://localhost:5173"] });
  api = client(server.url);
  token = (await api.newUser("origin")).token;
});
afterAll(() => server.close());

/** A raw HTTP/1.1 upgrade over TCP, so the exact Origin header and the server's answer are visible. */
async function upgrade(headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(server.url);
  let received = "";
  const { promise, resolve } = Promise.withResolvers<void>();
  const socket = await Bun.connect({
    hostname,
    port: Number(port),
    socket: {
      data(_s, chunk) {
        received += chunk.toString();
        if (received.includes("\r\n\r\n")) {
          const length = /content-length:\s*(\d+)/i.exec(received)?.[1];
          const head = received.indexOf("\r\n\r\n") + 4;
          if (received.startsWith("HTTP/1.1 101") || !length || received.length - head >= Number(length)) resolve();
        }
      },
      close: () => resolve(),
      error: () => resolve(),
    },
  });
  const lines = [
    "GET /api/v1/ws HTTP/1.1",
    `Host: ${hostname}:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Version: 13",
    `Sec-WebSocket-Key: ${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64")}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.write(lines.join("\r\n") + "\r\n\r\n");
  await promise;
  socket.end();
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0);
  return { status, body: received.slice(received.indexOf("\r\n\r\n") + 4) };
}

test("a foreign Origin is refused with 403 in the contract shape", async () => {
  for (const origin of ["https://evil.example", "https://chat.example.com.evil.example", "http://chat.example.com", "null", "HTTPS://CHAT.EXAMPLE.COM"]) {
    const res = await upgrade({ Origin: origin, Authorization: `Bearer ${token}` });
    expect(res.status, origin).toBe(403);
    expectErrorBody(JSON.parse(res.body), origin);
  }
});

test("an allowed Origin upgrades; a client sending no Origin (not a browser) does too", async () => {
  expect((await upgrade({ Origin: ALLOWED })).status).toBe(101);
  expect((await upgrade({ Origin: "http://localhost:5173" })).status).toBe(101);
  expect((await upgrade({})).status).toBe(101);
});

test("cookies never authenticate a socket", async () => {
  const cookie = `access_token=${token}; token=${token}; Authorization=Bearer%20${token}; session=${token}`;
  const socket = rawSocket(server.url, { headers: { cookie, origin: ALLOWED } });
  await socket.opened;
  socket.send({ type: "ping" });
  expect((await socket.waitClose(5000)).code).toBe(4401);
  expect(socket.ofType("ready")).toHaveLength(0);
  expect(socket.ofType("pong")).toHaveLength(0);
});

test("cookies never authenticate a REST call either", async () => {
  const cookie = `access_token=${token}; token=${token}; Authorization=Bearer%20${token}`;
  const res = await api.request("GET", "/api/v1/auth/me", { headers: { cookie } });
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
});

test("without an allow-list (the default) any Origin may open a socket, but still needs a token", async () => {
  const open = await startTestServer();
  try {
    const socket = rawSocket(open.url, { headers: { origin: "https://anywhere.example" } });
    await socket.opened;
    socket.send({ type: "ping" });
    expect((await socket.waitClose(5000)).code).toBe(4401);
  } finally {
    await open.close();
  }
});

// deploy/nginx.conf run for real (when nginx and openssl are installed) in front of a test server:
// unknown hosts get no answer (444, or a refused TLS handshake) and nothing under /metrics gets
// through, however the path is spelled. The config is used as shipped, with only ports,
// certificate paths and IPv6 listens rewritten.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import type { Subprocess } from "bun";
import { client } from "../support/api";
import { freePort, ROOT } from "../support/binary";
import { startTestServer, type TestServer } from "../support/server";

const nginx = Bun.which("nginx") ?? (Bun.file("/usr/sbin/nginx").size > 0 ? "/usr/sbin/nginx" : null);
const openssl = Bun.which("openssl");
const available = Boolean(nginx && openssl);
if (!available) console.warn("test/deploy/nginx: skipped, nginx or openssl is not installed (apt-get install nginx-light openssl)");

let server: TestServer;
let proc: Subprocess | undefined;
let dir: string;
let httpPort: number;
let httpsPort: number;

async function waitForPort(port: number) {
  for (let i = 0; i < 100; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, "127.0.0.1", () => (s.destroy(), resolve(true)));
      s.on("error", () => resolve(false));
    });
    if (open) return;
    await Bun.sleep(50);
  }
  throw new Error(`nginx did not listen on ${port}`);
}

beforeAll(async () => {
  if (!available) return;
  server = await startTestServer({ rateLimit: false });
  dir = mkdtempSync(join(tmpdir(), "chat-nginx-"));
  [httpPort, httpsPort] = [await freePort(), await freePort()];
  const cert = Bun.spawnSync([openssl!, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=chat.example.com",
    "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stderr: "pipe" });
  if (cert.exitCode !== 0) throw new Error(`openssl failed: ${cert.stderr}`);
  const site = readFileSync(join(ROOT, "deploy/nginx.conf"), "utf8")
    .split("\n")
    .filter((line) => !/listen \[::\]/.test(line))
    .join("\n")
    .replace(/listen 80\b/g, `listen 127.0.0.1:${httpPort}`)
    .replace(/listen 443\b/g, `listen 127.0.0.1:${httpsPort}`)
    .replace(/\/etc\/letsencrypt\/live\/chat\.example\.com\/fullchain\.pem/, join(dir, "cert.pem"))
    .replace(/\/etc\/letsencrypt\/live\/chat\.example\.com\/privkey\.pem/, join(dir, "key.pem"))
    .replace("server 127.0.0.1:8000;", `server 127.0.0.1:${server.port};`)
    .replace(/return 301 https:\/\/\$host\$request_uri;/, "return 301 https://$host:" + httpsPort + "$request_uri;");
  writeFileSync(join(dir, "site.conf"), site);
  const temp = (name: string) => `${name} ${join(dir, name.replace("_path", ""))};`;
  writeFileSync(
    join(dir, "nginx.conf"),
    `daemon off; master_process off; worker_processes 1; pid ${join(dir, "nginx.pid")}; error_log ${join(dir, "error.log")} warn;
     events { worker_connections 64; }
     http { access_log off; ${["client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path"].map(temp).join(" ")}
            include ${join(dir, "site.conf")}; }`,
  );
  const check = Bun.spawnSync([nginx!, "-t", "-p", dir, "-c", join(dir, "nginx.conf")], { stderr: "pipe" });
  if (check.exitCode !== 0) throw new Error(`nginx -t rejected deploy/nginx.conf: ${check.stderr}`);
  proc = Bun.spawn([nginx!, "-p", dir, "-c", join(dir, "nginx.conf")], { stdout: "ignore", stderr: "pipe" });
  await waitForPort(httpsPort);
});

afterAll(async () => {
  if (proc) {
    proc.kill();
    await proc.exited;
  }
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Reply {
  status: number | null; // null: the connection closed without an answer
  body: string;
}

function parse(text: string): Reply {
  if (!text) return { status: null, body: "" };
  return { status: Number(text.split(" ")[1]), body: text.slice(text.indexOf("\r\n\r\n") + 4) };
}

/** One HTTPS request with the given SNI name and Host header; rejects when the handshake is refused. */
function https(path: string, host: string, servername = "chat.example.com", headers = ""): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = tlsConnect({ host: "127.0.0.1", port: httpsPort, servername, rejectUnauthorized: false }, () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${headers}Connection: close\r\n\r\n`),
    );
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("error", reject);
    socket.on("close", () => resolve(parse(Buffer.concat(chunks).toString("utf8"))));
  });
}

function http(path: string, host: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = tcpConnect(httpPort, "127.0.0.1", () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("error", reject);
    socket.on("close", () => resolve(parse(Buffer.concat(chunks).toString("utf8"))));
  });
}

describe.skipIf(!available)("deploy/nginx.conf in front of the server", () => {
  test("the configured host is proxied: /health and an authenticated call work", async () => {
    expect((await https("/health", "chat.example.com")).status).toBe(200);
    const { token } = await client(server.url).newUser("nginx");
    const me = await https("/api/v1/auth/me", "chat.example.com", "chat.example.com", `Authorization: Bearer ${token}\r\n`);
    expect(me.status).toBe(200);
  });

  test("nothing under /metrics gets through, however it is spelled", async () => {
    for (const path of ["/metrics", "/metrics/", "//metrics", "/%6detrics", "/api/../metrics", "/metrics?x=1", "/metrics/../metrics"]) {
      const reply = await https(path, "chat.example.com");
      expect(reply.status, path).toBe(404);
      expect(reply.body, path).not.toContain("chat_build_info");
    }
  });

  test("an unknown or odd Host never reaches the server: no answer (444) or nginx's own refusal", async () => {
    /** Dropped (444), or refused by nginx itself: 400 for an empty Host or, over TLS, a Host that is not the SNI name (421 on newer nginx). */
    const expectNotProxied = (reply: Reply, label: string) => {
      if (reply.status === null) return;
      expect([400, 421], label).toContain(reply.status);
      expect(reply.body, label).toContain("nginx");
    };
    for (const host of ["x", "203.0.113.5", "evil.example", "chat.example.com.evil"]) {
      expect((await http("/health", host)).status, host).toBeNull();
      expect((await http("/foo/metrics", host)).status, host).toBeNull();
    }
    for (const host of ["x", "203.0.113.5", "evil.example", "", "chat.example.com.evil"]) {
      for (const path of ["/health", "/foo/metrics"]) {
        expectNotProxied(await http(path, host), `http ${host} ${path}`);
        expectNotProxied(await https(path, host), `https ${host} ${path}`);
      }
    }
  });

  test("TLS for a name other than the configured host is refused at the handshake", async () => {
    await expect(https("/health", "other.example", "other.example")).rejects.toThrow();
  });

  test("plain HTTP for the configured host redirects to HTTPS", async () => {
    const reply = await http("/health", "chat.example.com");
    expect(reply.status).toBe(301);
  });
});

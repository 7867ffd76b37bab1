// The binary carries everything it runs. Built from a copy of the sources that is then deleted (as
// on a self-hoster's machine, where the build tree never existed), it still stores, acknowledges and
// delivers messages: its writer thread is embedded, not read from the build machine's source path.
// Before this test, that path was compiled in, and every send on another machine was a 500.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { client } from "../support/api";
import { ROOT, startBinary, type RunningBinary } from "../support/binary";
import { connect } from "../support/socket";

const SOURCES = ["src", "scripts", "client", "drizzle", "drizzle-pg", "package.json", "tsconfig.json", "bunfig.toml"];

let work: string;
let server: RunningBinary | null = null;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "chat-relocated-"));
  const copy = join(work, "build-tree");
  mkdirSync(copy);
  for (const entry of SOURCES) if (existsSync(join(ROOT, entry))) cpSync(join(ROOT, entry), join(copy, entry), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
  const bin = join(work, "chat-server");
  const build = Bun.spawn([process.execPath, "run", "scripts/build.ts", bin], { cwd: copy, stdout: "pipe", stderr: "pipe" });
  const [code, stderr] = await Promise.all([build.exited, new Response(build.stderr).text()]);
  if (code !== 0 || !existsSync(bin)) throw new Error(`build from the copy failed (${code}): ${stderr}`);
  rmSync(copy, { recursive: true, force: true });
  const run = join(work, "run");
  mkdirSync(run);
  server = await startBinary(bin, { cwd: run, args: ["--rate-limit", "false"] });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

test("built from sources that are gone, the binary stores, acks and delivers messages (REST and socket)", async () => {
  const api = client(server!.url);
  const [alice, bob] = await Promise.all([api.newUser("reloc"), api.newUser("reloc")]);
  const dm = (await api.dm(alice.token, bob.user.id)).body.id;
  const bobSocket = await connect(server!.url, bob.token);
  const sent = await api.send(alice.token, dm, "over REST");
  expect(sent.status, server!.output()).toBe(201);
  expect((await bobSocket.waitType("new_message")).message.id).toBe(sent.body.id);
  const aliceSocket = await connect(server!.url, alice.token);
  aliceSocket.send({ type: "message", conversation_id: dm, content: "over the socket", client_msg_id: "r1" });
  expect((await aliceSocket.waitType("message_ack")).message.seq).toBe(2);
  expect(server!.output()).not.toContain("writer thread");
  aliceSocket.close();
  bobSocket.close();
});

test("its web client, docs and SDK bundle are embedded too", async () => {
  for (const path of ["/", "/web/app.js", "/client.js", "/docs", "/openapi.json"]) {
    const res = await fetch(server!.url + path);
    expect(res.status, path).toBe(200);
    expect((await res.text()).length, path).toBeGreaterThan(100);
  }
});

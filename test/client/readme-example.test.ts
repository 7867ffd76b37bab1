// The README's SDK example, taken from between its <!-- sdk-example --> markers and run as its own
// Bun process against a real server, with only the server address and the import path filled in.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createChatClient } from "../../client";
import { recordMessages, restartableServer } from "./harness";

const ROOT = resolve(import.meta.dir, "../..");
const scratch = mkdtempSync(join(tmpdir(), "chat-readme-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function readmeExample(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const block = /<!-- sdk-example -->\s*```ts\n([\s\S]*?)```\s*<!-- \/sdk-example -->/.exec(readme);
  if (!block) throw new Error("README.md has no <!-- sdk-example --> block");
  return block[1]!;
}

test("the README's SDK example logs in, sends, receives and exits", async () => {
  const server = await restartableServer();
  try {
    const password = "correct horse battery";
    const signup = (username: string) =>
      createChatClient({ baseUrl: server.url }).api.api.v1.auth.signup.post({ username, email: `${username}@example.com`, password });
    await signup("alice");
    await signup("bob");
    const bob = createChatClient({ baseUrl: server.url });
    await bob.login("bob", password);
    const bobSocket = bob.socket();
    const got = recordMessages(bobSocket);
    await got.until(() => got.syncedCount() > 0, "bob synced");

    const code = readmeExample()
      .replace('"http://localhost:8000"', JSON.stringify(server.url))
      .replace(/from "\.\/client"/, `from ${JSON.stringify(join(ROOT, "client/index.ts"))}`);
    const file = join(scratch, "example.ts");
    writeFileSync(file, code);
    const proc = Bun.spawn([process.execPath, "run", file], { stdout: "pipe", stderr: "pipe" });
    const output = new Response(proc.stdout).text();

    await got.until(() => got.seen.some((m) => m.content === "hello Bob"), "alice's hello");
    const hello = got.seen.find((m) => m.content === "hello Bob")!;
    await bob.api.api.v1.conversations({ conversation_id: hello.conversation_id }).messages.post({ content: "bye" });
    const timer = setTimeout(() => proc.kill(), 20_000);
    const exitCode = await proc.exited;
    clearTimeout(timer);
    const stdout = await output;
    expect(exitCode, await new Response(proc.stderr).text()).toBe(0);
    expect(stdout).toContain("stored as #1");
    expect(stdout).toContain(`#1 ${hello.sender_id}: hello Bob`);
    expect(stdout).toMatch(/#2 \S+: bye/);
    bobSocket.close();
  } finally {
    await server.close();
  }
}, 60_000);

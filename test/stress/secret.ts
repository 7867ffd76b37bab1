// secret: a jwt-secret a power loss brought back as 65 NUL bytes must stop the server (exit 2,
// naming the file), never sign or accept tokens; once the operator deletes it, a token forged with
// the NUL key is refused. A configured secret of one repeated byte is refused the same way.
import { writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { client } from "../support/api";
import { craftToken } from "../support/tokens";
import { BinaryServer } from "./lib";
import type { ScenarioResult } from "./run";
import { spawnServe } from "./second-server";

export async function secret(_quick: boolean): Promise<ScenarioResult> {
  const failures: string[] = [];
  const server = new BinaryServer();
  try {
    await server.start();
    const victim = await client(server.url).newUser("victim");
    await server.kill("SIGTERM");

    const secretPath = join(server.dataDir, "jwt-secret");
    writeFileSync(secretPath, Buffer.alloc(65));
    const zeroed = await spawnServe(server.dataDir);
    if (zeroed.code !== 2) failures.push(`a NUL jwt-secret: exit ${zeroed.code}, expected 2 (${zeroed.message})`);
    if (!zeroed.message.includes(secretPath)) failures.push(`the refusal does not name ${secretPath}: ${zeroed.message}`);

    const env = { ...process.env, CHAT_JWT_SECRET: "z".repeat(48) };
    const oneByte = await spawnServe(server.dataDir, env);
    if (oneByte.code !== 2) failures.push(`CHAT_JWT_SECRET of one repeated byte: exit ${oneByte.code}, expected 2`);

    rmSync(secretPath);
    await server.start();
    const forged = await craftToken(new Uint8Array(65), { sub: victim.user.id });
    const answer = (await client(server.url).get("/api/v1/auth/me", forged)).status;
    if (answer !== 401) failures.push(`a token signed with 65 NUL bytes got ${answer}, expected 401`);
    return {
      line: `NUL jwt-secret: exit ${zeroed.code} in ${zeroed.ms} ms naming the file; one-byte CHAT_JWT_SECRET: exit ${oneByte.code}; NUL-key token after regeneration: ${answer}`,
      failures,
    };
  } finally {
    await server.kill("SIGKILL");
    server.cleanup();
  }
}

// The JWT signing secret: from the config, or generated once and kept in the data directory (mode 0600).
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "./config";

export const SECRET_FILE = "jwt-secret";

export function loadOrCreateSecret(dataDir: string, configured: string): string {
  if (configured) return configured;
  const path = join(dataDir, SECRET_FILE);
  if (existsSync(path)) {
    const secret = readFileSync(path, "utf8").trim();
    if (Buffer.byteLength(secret) < 32) throw new ConfigError(`${path} holds a secret shorter than 32 bytes`);
    return secret;
  }
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(48))).toString("base64url");
  // wx: never overwrite a secret another process just wrote.
  writeFileSync(path, secret + "\n", { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
  return secret;
}

// The JWT signing secret: from the config, or generated once and kept in the data directory (mode
// 0600, written durably). A secret that cannot be one (a file a crash left full of NULs, one byte
// repeated, too short) stops the server: signing with it would let anyone forge any user's token.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "./config";
import { fsCause, writeFileDurably } from "./lib/durable-file";

export const SECRET_FILE = "jwt-secret";
const MIN_SECRET_BYTES = 32;

/** Why these bytes cannot be a signing secret, or null when they can. */
export function weakSecretReason(raw: Uint8Array): string | null {
  if (raw.length === 0) return "it is empty";
  if (raw.every((b) => b === 0)) return `all ${raw.length} bytes are NUL`;
  if (raw.includes(0)) return "it contains NUL bytes";
  if (raw.every((b) => b === raw[0])) return `all ${raw.length} bytes are the same (0x${raw[0]!.toString(16).padStart(2, "0")})`;
  const text = Buffer.from(raw).toString("utf8").trim();
  const bytes = Buffer.from(text);
  if (bytes.length > 0 && bytes.every((b) => b === bytes[0])) return `all ${bytes.length} bytes are the same (0x${bytes[0]!.toString(16).padStart(2, "0")})`;
  if (bytes.length < MIN_SECRET_BYTES) return `it is ${bytes.length} bytes long after trimming whitespace, fewer than ${MIN_SECRET_BYTES}`;
  return null;
}

/**
 * With --database-url, several instances serve the same users: a token one signs must verify on the
 * others, so each must be given the same secret. A generated one lives in one instance's data directory.
 */
export function requireSharedSecret(config: { databaseUrl: string; jwtSecret: string }): void {
  if (config.databaseUrl && !config.jwtSecret) {
    throw new ConfigError(
      "--database-url (CHAT_DATABASE_URL) needs --jwt-secret (CHAT_JWT_SECRET): every instance on the database must sign tokens " +
        "with the same configured secret, and a generated one would differ per instance. Set the same secret of at least 32 bytes on all of them " +
        "(for example: openssl rand -base64 48).",
    );
  }
}

export function loadOrCreateSecret(dataDir: string, configured: string): string {
  if (configured) {
    const weak = weakSecretReason(Buffer.from(configured));
    if (weak) throw new ConfigError(`the configured JWT secret (--jwt-secret / CHAT_JWT_SECRET) is unusable: ${weak}`);
    return configured;
  }
  const path = join(dataDir, SECRET_FILE);
  if (existsSync(path)) return readSecretFile(path);
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(48))).toString("base64url");
  try {
    writeFileDurably(path, secret + "\n", 0o600);
  } catch (error) {
    // Another process created it between our check and our link: use theirs.
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return readSecretFile(path);
    throw new ConfigError(`cannot create ${path}: ${fsCause(error)}`);
  }
  return secret;
}

function readSecretFile(path: string): string {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (error) {
    throw new ConfigError(`cannot read the JWT secret ${path}: ${fsCause(error)}`);
  }
  const weak = weakSecretReason(raw);
  if (weak) {
    throw new ConfigError(
      `${path} is not a usable JWT secret: ${weak} (a crash while it was written leaves such a file). ` +
        "Restore it from a backup, or delete it to generate a new one (tokens issued before become invalid).",
    );
  }
  return raw.toString("utf8").trim();
}

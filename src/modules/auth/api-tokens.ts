// Long-lived API tokens (bots, scripts): created, listed and revoked by the CLI, accepted as a
// Bearer token on REST and sockets next to the login JWTs. Only a SHA-256 of each token is stored.
import { now } from "../../lib/time";
import { andThen, type ApiTokenListing, type ApiTokenRow, type Awaitable, type Storage, type UserRow } from "../../ports/stores";
import { userById } from "../users/user-cache";

/** Every API token starts with this, so a leaked one is recognisable (secret scanners) and never taken for a JWT. */
export const API_TOKEN_PREFIX = "chat_";
/** The prefix and 32 random bytes in base64url (43 characters). */
const API_TOKEN_SHAPE = /^chat_[A-Za-z0-9_-]{43}$/;
/** last_used_at is written at most this often per token: a busy bot does not cost a write per request. */
export const LAST_USED_EVERY_MS = 60_000;

export const isApiToken = (token: string) => API_TOKEN_SHAPE.test(token);

export const hashApiToken = (token: string) => new Bun.CryptoHasher("sha256").update(token).digest("hex");

/** Whether a token row still authenticates at `at`: neither revoked nor expired. */
export const tokenLive = (row: Pick<ApiTokenRow, "revokedAt" | "expiresAt">, at = now()) =>
  row.revokedAt === null && (row.expiresAt === null || row.expiresAt > at);

export interface CreatedApiToken {
  row: ApiTokenRow;
  /** The secret itself: shown once, never stored. */
  token: string;
}

export async function createApiToken(
  { stores }: Storage,
  userId: string,
  options: { name?: string | null; ttlMs?: number | null } = {},
): Promise<CreatedApiToken> {
  const token = API_TOKEN_PREFIX + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  const at = now();
  const row = await stores.apiTokens.insert({
    id: Bun.randomUUIDv7(),
    userId,
    name: options.name ?? null,
    hash: hashApiToken(token),
    createdAt: at,
    expiresAt: options.ttlMs == null ? null : at + options.ttlMs,
    lastUsedAt: null,
    revokedAt: null,
  });
  return { row, token };
}

export type { ApiTokenListing };

/** Tokens newest first, of one user or everyone (the secrets are not stored, so none can be shown). */
export const listApiTokens = ({ stores }: Storage, userId?: string): Awaitable<ApiTokenListing[]> => stores.apiTokens.list(userId);

/**
 * Revokes a token: its row and whether this call revoked it (false: it already was), or null
 * when there is no such token. Revoking twice keeps the first time.
 */
export async function revokeApiToken({ stores, caches }: Storage, id: string) {
  const result = await stores.apiTokens.revoke(id, now());
  // Keyed by token text, which is not stored: a revoke cannot find its entry, so all go.
  caches.apiTokens.clear();
  return result;
}

/** The ids among these that still authenticate (the socket watch re-reads them after outside commits). */
export function liveApiTokenIds({ stores }: Storage, ids: string[]): Awaitable<Set<string>> {
  if (ids.length === 0) return new Set();
  const at = now();
  return andThen(stores.apiTokens.byIds(ids), (rows) => new Set(rows.filter((r) => tokenLive(r, at)).map((r) => r.id)));
}

// Looked up on every request a bot makes, so rows are kept in the apiTokens cache keyed by the
// token text (a hit costs no hash); revocation and expiry are checked on every hit. Unknown
// tokens are not cached: each is one indexed lookup.
async function findToken({ stores, caches }: Storage, token: string): Promise<ApiTokenRow | null> {
  const hit = caches.apiTokens.get(token);
  if (hit) return hit;
  const row = await stores.apiTokens.byHash(hashApiToken(token));
  if (row) caches.apiTokens.set(token, row);
  return row;
}

/** Notes a use; at most once a minute, and never failing the request it serves (it is bookkeeping). */
async function touch({ stores }: Storage, row: ApiTokenRow, at: number) {
  if (row.lastUsedAt !== null && at - row.lastUsedAt < LAST_USED_EVERY_MS) return;
  row.lastUsedAt = at;
  try {
    await stores.apiTokens.touch(row.id, at);
  } catch {}
}

export interface ApiTokenSession {
  user: UserRow;
  token: ApiTokenRow;
}

/** The user and token row behind an API token, or null: unknown, revoked, expired, or its user disabled or gone. */
export async function apiTokenSession(s: Storage, token: string): Promise<ApiTokenSession | null> {
  if (!isApiToken(token)) return null;
  const row = await findToken(s, token);
  const at = now();
  if (!row || !tokenLive(row, at)) return null;
  const user = await userById(s, row.userId);
  if (!user || user.disabledAt !== null) return null;
  await touch(s, row, at);
  return { user, token: row };
}

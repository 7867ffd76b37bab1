// Long-lived API tokens (bots, scripts): created, listed and revoked by the CLI, accepted as a
// Bearer token on REST and sockets next to the login JWTs. Only a SHA-256 of each token is stored.
import { and, desc, eq, inArray, isNull } from "drizzle-orm";
import type { Db } from "../../db/client";
import { externalChanges } from "../../db/external-changes";
import { apiTokens, users, type ApiTokenRow, type UserRow } from "../../db/schema";
import { now } from "../../lib/time";
import { userById } from "../users/user-cache";

/** Every API token starts with this, so a leaked one is recognisable (secret scanners) and never taken for a JWT. */
export const API_TOKEN_PREFIX = "chat_";
/** The prefix and 32 random bytes in base64url (43 characters). */
const API_TOKEN_SHAPE = /^chat_[A-Za-z0-9_-]{43}$/;
/** last_used_at is written at most this often per token: a busy bot does not cost a write per request. */
export const LAST_USED_EVERY_MS = 60_000;
const MAX_CACHED_TOKENS = 10_000;

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

export function createApiToken(db: Db, userId: string, options: { name?: string | null; ttlMs?: number | null } = {}): CreatedApiToken {
  const token = API_TOKEN_PREFIX + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  const at = now();
  const row = db
    .insert(apiTokens)
    .values({
      id: Bun.randomUUIDv7(),
      userId,
      name: options.name ?? null,
      hash: hashApiToken(token),
      createdAt: at,
      expiresAt: options.ttlMs == null ? null : at + options.ttlMs,
    })
    .returning()
    .get();
  return { row, token };
}

export type ApiTokenListing = ApiTokenRow & { username: string };

/** Tokens newest first, of one user or everyone (the secrets are not stored, so none can be shown). */
export function listApiTokens(db: Db, userId?: string): ApiTokenListing[] {
  return db
    .select({ token: apiTokens, username: users.username })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(userId ? eq(apiTokens.userId, userId) : undefined)
    .orderBy(desc(apiTokens.createdAt), desc(apiTokens.id))
    .all()
    .map((r) => ({ ...r.token, username: r.username }));
}

/**
 * Revokes a token: its row and whether this call revoked it (false: it already was), or undefined
 * when there is no such token. Revoking twice keeps the first time.
 */
export function revokeApiToken(db: Db, id: string): { row: ApiTokenRow; revoked: boolean } | undefined {
  const revoked = db
    .update(apiTokens)
    .set({ revokedAt: now() })
    .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
    .returning()
    .get();
  forgetCachedTokens(db);
  if (revoked) return { row: revoked, revoked: true };
  const row = db.select().from(apiTokens).where(eq(apiTokens.id, id)).get();
  return row && { row, revoked: false };
}

/** The ids among these that still authenticate (the socket watch re-reads them after outside commits). */
export function liveApiTokenIds(db: Db, ids: string[]): Set<string> {
  if (ids.length === 0) return new Set();
  const at = now();
  const rows = db.select().from(apiTokens).where(inArray(apiTokens.id, ids)).all();
  return new Set(rows.filter((r) => tokenLive(r, at)).map((r) => r.id));
}

// Looked up on every request a bot makes, so rows are kept in memory keyed by the token text (a hit
// costs no hash). Exact like the user cache: dropped whole when another process commits (the CLI's
// `token revoke`, seen through data_version) and by this process's own revokes; revocation and
// expiry are checked on every hit. Unknown tokens are not cached: each is one indexed lookup.
interface TokenCache {
  rows: Map<string, ApiTokenRow>;
  version: number;
}
const tokenCaches = new WeakMap<Db, TokenCache>();

function tokenCache(db: Db): TokenCache {
  let cache = tokenCaches.get(db);
  const version = externalChanges(db).version();
  if (!cache) tokenCaches.set(db, (cache = { rows: new Map(), version }));
  if (cache.version !== version) {
    cache.rows.clear();
    cache.version = version;
  }
  return cache;
}

function forgetCachedTokens(db: Db) {
  tokenCaches.get(db)?.rows.clear();
}

function findToken(db: Db, token: string): ApiTokenRow | null {
  const cache = tokenCache(db);
  const hit = cache.rows.get(token);
  if (hit) return hit;
  const row = db.select().from(apiTokens).where(eq(apiTokens.hash, hashApiToken(token))).get();
  if (!row) return null;
  if (cache.rows.size >= MAX_CACHED_TOKENS) cache.rows.clear();
  cache.rows.set(token, row);
  return row;
}

/** Notes a use; at most once a minute, and never failing the request it serves (it is bookkeeping). */
function touch(db: Db, row: ApiTokenRow, at: number) {
  if (row.lastUsedAt !== null && at - row.lastUsedAt < LAST_USED_EVERY_MS) return;
  row.lastUsedAt = at;
  try {
    db.update(apiTokens).set({ lastUsedAt: at }).where(eq(apiTokens.id, row.id)).run();
  } catch {}
}

export interface ApiTokenSession {
  user: UserRow;
  token: ApiTokenRow;
}

/** The user and token row behind an API token, or null: unknown, revoked, expired, or its user disabled or gone. */
export function apiTokenSession(db: Db, token: string): ApiTokenSession | null {
  if (!isApiToken(token)) return null;
  const row = findToken(db, token);
  const at = now();
  if (!row || !tokenLive(row, at)) return null;
  const user = userById(db, row.userId);
  if (!user || user.disabledAt !== null) return null;
  touch(db, row, at);
  return { user, token: row };
}

// Signup, login and bearer-token authentication.
import { ApiError, unauthorized } from "../../errors";
import { now } from "../../lib/time";
import type { Awaitable, Storage, UserRow } from "../../ports/stores";
import { assertNotTaken, unlessTaken } from "../users/service";
import { userById } from "../users/user-cache";
import { API_TOKEN_PREFIX, apiTokenSession } from "./api-tokens";
import { dummyPasswordHash, hashPassword, verifyPassword } from "./passwords";
import type { TokenService } from "./tokens";

export interface SignupInput {
  username: string;
  email: string;
  password: string;
  full_name?: string | null;
}

/** A new account; a bot's password is one nobody knows (bots log in with API tokens only). */
export async function signup({ stores }: Storage, input: SignupInput, options: { bot?: boolean } = {}): Promise<UserRow> {
  const usernameKey = input.username.toLowerCase();
  const emailKey = input.email.toLowerCase();
  assertNotTaken(await stores.users.taken(usernameKey, emailKey)); // fail fast before the slow hash
  const passwordHash = await hashPassword(input.password);
  const at = now();
  // And again, atomically with the insert.
  return unlessTaken(
    await stores.users.insert({
      id: Bun.randomUUIDv7(),
      username: input.username,
      usernameKey,
      email: input.email,
      emailKey,
      passwordHash,
      isBot: options.bot ?? false,
      fullName: input.full_name ?? null,
      fullNameKey: input.full_name?.toLowerCase() ?? null,
      avatarUrl: null,
      bio: null,
      tokenVersion: 0,
      lastSeenAt: null,
      disabledAt: null,
      createdAt: at,
      updatedAt: at,
    }),
  );
}

const badCredentials = () =>
  new ApiError(401, "invalid_credentials", "Incorrect username or password", { "WWW-Authenticate": "Bearer" });

/** The account a login text names (username or email, case-insensitively), if any. */
export const findUserByLogin = ({ stores }: Storage, login: string): Awaitable<UserRow | null> => stores.users.byLoginKey(login.toLowerCase());

/** One 401 and one hash's worth of time whether the user is unknown or the password is wrong. */
export async function checkCredentials(row: UserRow | null, password: string): Promise<UserRow> {
  const ok = await verifyPassword(password, row?.passwordHash ?? (await dummyPasswordHash()));
  // A disabled account, or a bot (its hash is of a password nobody knows, and it acts through API
  // tokens only), answers like a wrong password: the refusal says nothing about the password.
  if (!row || !ok || row.disabledAt !== null || row.isBot) throw badCredentials();
  return row;
}

export async function issueToken(tokens: TokenService, user: UserRow) {
  return {
    access_token: await tokens.sign(user.id, user.tokenVersion),
    token_type: "bearer" as const,
    expires_in: tokens.ttlSeconds,
  };
}

export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/** Whether a user row still honours tokens of this version: not deleted, not disabled, not revoked. */
export const sessionValid = (row: Pick<UserRow, "tokenVersion" | "disabledAt"> | null | undefined, tokenVersion: number) =>
  !!row && row.tokenVersion === tokenVersion && row.disabledAt === null;

export interface Session {
  user: UserRow;
  /** The login token's version (a bump ends the session); null for an API token. */
  tokenVersion: number | null;
  /** When the token stops working (Unix ms), null for an API token that never expires. */
  expiresAtMs: number | null;
  /** The API token that authenticated, so its revocation ends exactly its sockets. */
  apiTokenId: string | null;
}

/**
 * The session behind a login JWT or an API token (`chat_…`), or null: unknown or disabled user,
 * bumped version, revoked or expired API token and bad tokens alike.
 */
export async function sessionForToken(s: Storage, tokens: TokenService, token: string | null): Promise<Session | null> {
  if (!token) return null;
  if (token.startsWith(API_TOKEN_PREFIX)) {
    const found = await apiTokenSession(s, token);
    return found && { user: found.user, tokenVersion: null, expiresAtMs: found.token.expiresAt, apiTokenId: found.token.id };
  }
  const claims = await tokens.verify(token);
  if (!claims) return null;
  const user = await userById(s, claims.sub);
  if (!sessionValid(user, claims.ver)) return null;
  return { user: user!, tokenVersion: claims.ver, expiresAtMs: claims.exp * 1000, apiTokenId: null };
}

/** The user behind a token, or null (see sessionForToken). */
export async function userForToken(s: Storage, tokens: TokenService, token: string | null): Promise<UserRow | null> {
  return (await sessionForToken(s, tokens, token))?.user ?? null;
}

export async function requireUser(s: Storage, tokens: TokenService, authorization: string | null | undefined) {
  if (!authorization) throw unauthorized("Not authenticated");
  const token = bearerToken(authorization);
  if (!token) throw unauthorized("Authorization must be a Bearer token");
  const user = await userForToken(s, tokens, token);
  if (!user) throw unauthorized("Could not validate credentials");
  return user;
}

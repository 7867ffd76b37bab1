// Users: lookup, search, profile updates, and the public view that never carries the hash.
import { asc, eq, or, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { users, type UserRow } from "../../db/schema";
import { ApiError, notFound, unprocessable } from "../../errors";
import { isoOrNull, iso, now } from "../../lib/time";
import { nullHub, type Hub } from "../../ports/bus";
import type { UpdateMeBody, UserView } from "./model";
import { hashPassword, verifyPassword } from "../auth/passwords";
import { forgetCachedUser } from "./user-cache";

export function toUserView(row: UserRow, hub: Pick<Hub, "isOnline">, self = false): UserView {
  const view: UserView = {
    id: row.id,
    username: row.username,
    full_name: row.fullName,
    avatar_url: row.avatarUrl,
    bio: row.bio,
    is_online: hub.isOnline(row.id),
    // Raw-SQL reads (user cache, participant lists) hand SQLite's 0/1 through, not a boolean.
    is_bot: !!row.isBot,
    last_seen_at: isoOrNull(row.lastSeenAt),
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
  };
  if (self) view.email = row.email;
  return view;
}

export function findUserById(db: Db, id: string): UserRow | undefined {
  return db.select().from(users).where(eq(users.id, id)).get();
}

export function getUser(db: Db, id: string): UserRow {
  const row = findUserById(db, id);
  if (!row) throw notFound("User");
  return row;
}

/** Escapes LIKE wildcards so a search for "a_b" means exactly that. */
const likePrefix = (q: string) => q.replace(/[\\%_]/g, (c) => "\\" + c) + "%";

export function searchUsers(db: Db, q: string | undefined, limit: number, offset: number): UserRow[] {
  const base = db.select().from(users);
  const term = q?.trim().toLowerCase();
  const filtered = term
    ? base.where(
        or(
          sql`${users.usernameKey} LIKE ${likePrefix(term)} ESCAPE '\\'`,
          sql`${users.fullNameKey} LIKE ${likePrefix(term)} ESCAPE '\\'`,
        ),
      )
    : base;
  return filtered.orderBy(asc(users.usernameKey)).limit(limit).offset(offset).all();
}

export function isUsernameOrEmailTaken(db: Db, usernameKey: string | null, emailKey: string | null, exceptId?: string) {
  const conflict = (field: "username" | "email") =>
    new ApiError(409, `${field}_taken`, `That ${field} is already registered`);
  if (usernameKey) {
    const row = db.select({ id: users.id }).from(users).where(eq(users.usernameKey, usernameKey)).get();
    if (row && row.id !== exceptId) throw conflict("username");
  }
  if (emailKey) {
    const row = db.select({ id: users.id }).from(users).where(eq(users.emailKey, emailKey)).get();
    if (row && row.id !== exceptId) throw conflict("email");
  }
}

/** Updates the caller's profile; a new password revokes every token and live session issued before it. */
export async function updateMe(db: Db, me: UserRow, body: UpdateMeBody, hub: Pick<Hub, "endSessions"> = nullHub): Promise<UserRow> {
  const patch: Partial<UserRow> = {};
  if (body.password !== undefined) {
    if (!body.current_password) throw unprocessable("current_password", "required to change the password");
    if (!(await verifyPassword(body.current_password, me.passwordHash))) {
      throw new ApiError(403, "wrong_password", "current_password is not correct");
    }
    patch.passwordHash = await hashPassword(body.password);
    patch.tokenVersion = me.tokenVersion + 1;
  }
  if (body.username !== undefined) {
    patch.username = body.username;
    patch.usernameKey = body.username.toLowerCase();
  }
  if (body.email !== undefined) {
    patch.email = body.email;
    patch.emailKey = body.email.toLowerCase();
  }
  if (body.full_name !== undefined) {
    patch.fullName = body.full_name;
    patch.fullNameKey = body.full_name?.toLowerCase() ?? null;
  }
  if (body.avatar_url !== undefined) patch.avatarUrl = body.avatar_url;
  if (body.bio !== undefined) patch.bio = body.bio;
  // Checked after the awaits: the transaction below is synchronous, so nothing interleaves.
  forgetCachedUser(db, me.id);
  const updated = db.transaction((tx) => {
    isUsernameOrEmailTaken(tx as unknown as Db, patch.usernameKey ?? null, patch.emailKey ?? null, me.id);
    patch.updatedAt = now();
    return tx.update(users).set(patch).where(eq(users.id, me.id)).returning().get()!;
  });
  if (patch.tokenVersion !== undefined) hub.endSessions(me.id, "password changed");
  return updated;
}

/**
 * Disables or re-enables an account. Disabling also bumps the token version, so tokens issued before
 * stay dead after `enable`; messages and memberships are kept either way. Returns false when the
 * account was already in that state.
 */
export function setDisabled(db: Db, userId: string, disabled: boolean, hub: Pick<Hub, "endSessions"> = nullHub): boolean {
  forgetCachedUser(db, userId);
  const at = now();
  const changed = db.$client
    .query<{ id: string }, [number | null, number, number, string]>(
      `UPDATE users SET disabled_at = ?1, token_version = token_version + ?2, updated_at = ?3
       WHERE id = ?4 AND (disabled_at IS NULL) = (?1 IS NOT NULL) RETURNING id`,
    )
    .get(disabled ? at : null, disabled ? 1 : 0, at, userId);
  if (changed && disabled) hub.endSessions(userId, "account disabled");
  return changed !== null;
}

export function touchLastSeen(db: Db, userId: string, at = now()) {
  forgetCachedUser(db, userId);
  db.update(users).set({ lastSeenAt: at }).where(eq(users.id, userId)).run();
}

export interface SessionAccess {
  id: string;
  tokenVersion: number;
  disabledAt: number | null;
}

/** What decides whether these users' tokens still pass, in one query (the session watch re-reads it). */
export function sessionAccess(db: Db, userIds: string[]): SessionAccess[] {
  return db.$client
    .query<SessionAccess, [string]>(
      `SELECT id, token_version AS tokenVersion, disabled_at AS disabledAt FROM users
       WHERE id IN (SELECT value FROM json_each(?))`,
    )
    .all(JSON.stringify(userIds));
}

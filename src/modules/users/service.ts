// Users: lookup, search, profile updates, and the public view that never carries the hash.
import { ApiError, notFound, unprocessable } from "../../errors";
import { isoOrNull, iso, now } from "../../lib/time";
import { nullHub, type Hub } from "../../ports/bus";
import type { Awaitable, SessionAccess, Storage, Taken, UserPatch, UserRow } from "../../ports/stores";
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
    // Raw-SQL reads (participant lists) hand SQLite's 0/1 through, not a boolean.
    is_bot: !!row.isBot,
    last_seen_at: isoOrNull(row.lastSeenAt),
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
  };
  if (self) view.email = row.email;
  return view;
}

export async function getUser({ stores }: Storage, id: string): Promise<UserRow> {
  const row = await stores.users.byId(id);
  if (!row) throw notFound("User");
  return row;
}

export function searchUsers({ stores }: Storage, q: string | undefined, limit: number, offset: number): Awaitable<UserRow[]> {
  return stores.users.search(q?.trim().toLowerCase() || null, limit, offset);
}

/** 409 `username_taken` / `email_taken` when a key is taken. */
export function assertNotTaken(taken: Taken | null) {
  if (taken) throw new ApiError(409, `${taken.taken}_taken`, `That ${taken.taken} is already registered`);
}

/** The written row, or the 409 of the key that stopped the write. */
export function unlessTaken<T extends object>(result: T | Taken): T {
  assertNotTaken("taken" in result ? result : null);
  return result as T;
}

/** Updates the caller's profile; a new password revokes every token and live session issued before it. */
export async function updateMe(s: Storage, me: UserRow, body: UpdateMeBody, hub: Pick<Hub, "endSessions"> = nullHub): Promise<UserRow> {
  const patch: UserPatch = {};
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
  forgetCachedUser(s, me.id);
  patch.updatedAt = now();
  // The store checks the new keys and writes in one transaction.
  const updated = unlessTaken((await s.stores.users.update(me.id, patch)) ?? me);
  if (patch.tokenVersion !== undefined) hub.endSessions(me.id, "password changed");
  return updated;
}

/**
 * Disables or re-enables an account. Disabling also bumps the token version, so tokens issued before
 * stay dead after `enable`; messages and memberships are kept either way. Returns false when the
 * account was already in that state.
 */
export async function setDisabled(s: Storage, userId: string, disabled: boolean, hub: Pick<Hub, "endSessions"> = nullHub): Promise<boolean> {
  forgetCachedUser(s, userId);
  const changed = await s.stores.users.setDisabled(userId, disabled, now());
  if (changed && disabled) hub.endSessions(userId, "account disabled");
  return changed;
}

export function touchLastSeen(s: Storage, userId: string, at = now()): Awaitable<void> {
  forgetCachedUser(s, userId);
  return s.stores.users.touchLastSeen(userId, at);
}

export type { SessionAccess };

/** What decides whether these users' tokens still pass, in one query (the session watch re-reads it). */
export function sessionAccess({ stores }: Storage, userIds: string[]): Awaitable<SessionAccess[]> {
  return stores.users.sessionAccess(userIds);
}

// Conversations: create (direct ones unique per pair), list by activity, rename, and the full view.
import type { Db } from "../../db/client";
import { notFound, unprocessable } from "../../errors";
import { iso, now } from "../../lib/time";
import type { Hub } from "../../ports/bus";
import type { ChangeFeed } from "../../ports/changes";
import type { Awaitable, ConversationRow, Storage } from "../../ports/stores";
import { sqliteStoresOf, storageOf, type LegacyDb } from "../storage-bridge";
import { assertNotBlockedBy } from "../blocks/service";
import { commitRevision } from "../changes/revision";
import { messageColumns } from "../../db/message-sql";
import { isReadFor, readState, toMessageView, unreadCounts, type MessageRecord } from "../messages/service";
import { toUserView } from "../users/service";
import { conversationView } from "./conversation-view";
import { memberViewRenderer } from "./member-views";
import type { ParticipantRow } from "./participants";
import type { ConversationView, CreateConversationBody, MemberView } from "./model";

export const directKey = (a: string, b: string) => (a < b ? `${a}:${b}` : `${b}:${a}`);

export const findDirect = (db: Db, a: string, b: string) => sqliteStoresOf(db).conversations.byDirectKey(directKey(a, b));

function insertConversation(db: Db, row: Omit<ConversationRow, "lastSeq" | "rev" | "metaRev">, memberIds: string[]): ConversationRow {
  // The creator of a group owns it; roles do not matter in a direct conversation.
  const roleOf = (userId: string) => (row.isGroup && userId === row.createdBy ? "owner" : "member");
  return sqliteStoresOf(db).conversations.create(row, memberIds.map((userId) => ({ userId, role: roleOf(userId) })));
}

export function assertUsersExist(db: Db, ids: string[], field = "participant_ids") {
  if (ids.length === 0) return;
  const found = new Set(sqliteStoresOf(db).users.existingIds(ids));
  const missing = ids.find((id) => !found.has(id));
  if (missing) throw unprocessable(field, `unknown user ${missing}`);
}

/**
 * Finds or creates the direct conversation of two users; a new one goes through the change feed.
 * `field` is the request field that named the other user, so errors name what the client sent.
 */
export function findOrCreateDirect(
  db: Db,
  feed: ChangeFeed,
  me: string,
  other: string,
  field = "participant_ids",
): { row: ConversationRow; created: boolean } {
  if (other === me) throw unprocessable(field, "a direct conversation needs one other user");
  const existing = findDirect(db, me, other);
  if (existing) return { row: existing, created: false };
  assertUsersExist(db, [other], field);
  const at = now();
  try {
    const row = insertConversation(
      db,
      { id: Bun.randomUUIDv7(), name: null, isGroup: false, createdBy: me, directKey: directKey(me, other), lastActivityAt: at, createdAt: at, updatedAt: at },
      [me, other],
    );
    feed.committed({ type: "conversation_created", conversationId: row.id, memberIds: [me, other], at });
    return { row, created: true };
  } catch (error) {
    // Lost a race with the other user creating the same pair: theirs is the one.
    const raced = findDirect(db, me, other);
    if (raced) return { row: raced, created: false };
    throw error;
  }
}

export function createConversation(db: Db, feed: ChangeFeed, me: string, body: CreateConversationBody) {
  const others = [...new Set(body.participant_ids)].filter((id) => id !== me);
  if (!body.is_group) {
    if (others.length !== 1) {
      throw unprocessable("participant_ids", "a direct conversation needs exactly one other participant (set is_group for more)");
    }
    return findOrCreateDirect(db, feed, me, others[0]!);
  }
  const name = body.name?.trim();
  if (!name) throw unprocessable("name", "a group needs a name");
  if (others.length === 0) throw unprocessable("participant_ids", "a group needs at least one other participant");
  assertUsersExist(db, others);
  // Creating a group adds its members: someone who blocked the creator cannot be put in it.
  assertNotBlockedBy(db, me, others);
  const at = now();
  const row = insertConversation(
    db,
    { id: Bun.randomUUIDv7(), name, isGroup: true, createdBy: me, directKey: null, lastActivityAt: at, createdAt: at, updatedAt: at },
    [me, ...others],
  );
  feed.committed({ type: "conversation_created", conversationId: row.id, memberIds: [me, ...others], at });
  return { row, created: true };
}

/** Renames a group: a change (next rev) reported as conversation_updated; the same name is no change. */
export function renameConversation(
  db: Db,
  feed: ChangeFeed,
  hub: Pick<Hub, "isOnline">,
  me: string,
  conversationId: string,
  name: string | null | undefined,
) {
  const row = getConversationRow(db, me, conversationId);
  if (name === undefined) return row;
  if (!row.isGroup) throw unprocessable("name", "a direct conversation cannot be renamed");
  const trimmed = name?.trim();
  if (!trimmed) throw unprocessable("name", "a group needs a name");
  if (trimmed === row.name) return row;
  const revision = commitRevision(db, conversationId, { meta: true }, () => sqliteStoresOf(db).conversations.rename(conversationId, trimmed)!);
  if (!revision) return row;
  reportConversationUpdated(db, feed, hub, revision.result, revision.rev, revision.at, { added: [], removed: [] });
  return revision.result;
}

/** Reports a committed change to a conversation itself (name, members, roles) to the feed. */
export function reportConversationUpdated(
  db: Db,
  feed: ChangeFeed,
  hub: Pick<Hub, "isOnline">,
  row: ConversationRow,
  rev: number,
  at: number,
  moves: { added: string[]; removed: string[] },
) {
  feed.committed({
    type: "conversation_updated",
    conversationId: row.id,
    rev,
    memberIds: sqliteStoresOf(db).conversations.memberIds(row.id),
    ...moves,
    viewFor: memberViewRenderer(db, hub, row),
    at,
  });
}

export function getConversationRow(db: Db, me: string, conversationId: string): ConversationRow {
  const row = sqliteStoresOf(db).conversations.forMember(conversationId, me);
  if (!row) throw notFound("Conversation");
  return row;
}

export const listConversationRows = (db: Db, me: string, limit: number, offset: number): ConversationRow[] =>
  sqliteStoresOf(db).conversations.listForMember(me, limit, offset);

/**
 * Builds views for a page of conversations with a fixed number of queries, not one per row. With
 * `participantsCap`, each lists at most that many members plus the caller (the list route); without,
 * everyone.
 */
export function toConversationViews(
  db: Db,
  hub: Pick<Hub, "isOnline">,
  me: string,
  rows: ConversationRow[],
  participantsCap = Number.MAX_SAFE_INTEGER,
): ConversationView[] {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const participants = new Map<string, ReturnType<typeof toUserView>[]>();
  const memberViews = new Map<string, MemberView[]>();
  const mine = new Map<string, ParticipantRow>();
  const stores = sqliteStoresOf(db);
  for (const p of stores.conversations.participants(me, ids, participantsCap)) {
    const list = participants.get(p.conversationId) ?? [];
    list.push(toUserView(p.user, hub, p.user.id === me));
    participants.set(p.conversationId, list);
    const roles = memberViews.get(p.conversationId) ?? [];
    roles.push({ user_id: p.user.id, role: p.role, joined_at: iso(p.joinedAt) });
    memberViews.set(p.conversationId, roles);
    if (p.user.id === me) mine.set(p.conversationId, p);
  }
  const at = now();
  const counts = stores.conversations.memberCounts(ids);
  const lastMessages = new Map(
    db.$client
      .query<MessageRecord, string[]>(
        `SELECT ${messageColumns("m")} FROM conversations c
         JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq
         WHERE c.id IN (${ids.map(() => "?").join(",")})`,
      )
      .all(...ids)
      .map((m) => [m.conversation_id, m]),
  );
  const unread = new Map(unreadCounts(db, me, ids).map((u) => [u.conversation_id, u.unread_count]));
  return rows.map((r) => {
    const last = lastMessages.get(r.id);
    const state = last ? readState(db, r.id, me) : null;
    const self = mine.get(r.id);
    return conversationView(r, {
      participants: participants.get(r.id) ?? [],
      memberCount: counts.get(r.id) ?? 0,
      members: memberViews.get(r.id) ?? [],
      self,
      lastMessage: last && state ? toMessageView(last, isReadFor(last, me, state)) : null,
      unreadCount: unread.get(r.id) ?? 0,
      at,
    });
  });
}

/** The conversations a user is in (a socket subscribes to their topics when it authenticates). */
export function conversationIdsOf(db: LegacyDb, userId: string): string[];
export function conversationIdsOf(s: Storage, userId: string): Awaitable<string[]>;
export function conversationIdsOf(from: Storage | LegacyDb, userId: string): Awaitable<string[]> {
  return storageOf(from).stores.conversations.conversationIdsOf(userId);
}

/** Everyone who shares a conversation with the user (presence goes to them). */
export function contactIdsOf(db: LegacyDb, userId: string): string[];
export function contactIdsOf(s: Storage, userId: string): Awaitable<string[]>;
export function contactIdsOf(from: Storage | LegacyDb, userId: string): Awaitable<string[]> {
  return storageOf(from).stores.conversations.contactIdsOf(userId);
}

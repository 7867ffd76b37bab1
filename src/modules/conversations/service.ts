// Conversations: create (direct ones unique per pair), list by activity, rename, and the full view.
import { notFound, unprocessable } from "../../errors";
import { iso, now } from "../../lib/time";
import type { Hub } from "../../ports/bus";
import type { Change, ChangeFeed } from "../../ports/changes";
import { andThenAll, type Awaitable, type ConversationRow, type MessageRecord, type Storage } from "../../ports/stores";
import { assertNotBlockedBy, blockedError, hasBlocked } from "../blocks/service";
import { commitRevision } from "../changes/revision";
import { isInvisibleOnly } from "../messages/content";
import { isReadFor, readState, toMessageView, unreadCounts } from "../messages/service";
import { toUserView } from "../users/service";
import { conversationView } from "./conversation-view";
import { memberViewRenderer } from "./member-views";
import type { ParticipantRow } from "./participants";
import type { ConversationView, CreateConversationBody, MemberView } from "./model";

export const directKey = (a: string, b: string) => (a < b ? `${a}:${b}` : `${b}:${a}`);

export const findDirect = ({ stores }: Storage, a: string, b: string) => stores.conversations.byDirectKey(directKey(a, b));

function insertConversation({ stores }: Storage, row: Omit<ConversationRow, "lastSeq" | "rev" | "metaRev">, memberIds: string[]) {
  // The creator of a group owns it; roles do not matter in a direct conversation.
  const roleOf = (userId: string) => (row.isGroup && userId === row.createdBy ? "owner" : "member");
  return stores.conversations.create(row, memberIds.map((userId) => ({ userId, role: roleOf(userId) })));
}

export async function assertUsersExist({ stores }: Storage, ids: string[], field = "participant_ids") {
  if (ids.length === 0) return;
  const found = new Set(await stores.users.existingIds(ids));
  const missing = ids.find((id) => !found.has(id));
  if (missing) throw unprocessable(field, `unknown user ${missing}`);
}

/**
 * Finds or creates the direct conversation of two users; a new one goes through the change feed.
 * `field` is the request field that named the other user, so errors name what the client sent.
 */
export async function findOrCreateDirect(
  s: Storage,
  feed: ChangeFeed,
  hub: Pick<Hub, "isOnline">,
  me: string,
  other: string,
  field = "participant_ids",
): Promise<{ row: ConversationRow; created: boolean }> {
  if (other === me) throw unprocessable(field, "a direct conversation needs one other user");
  const existing = await findDirect(s, me, other);
  if (existing) return { row: existing, created: false };
  await assertUsersExist(s, [other], field);
  // Someone who blocked you cannot be put into a new conversation with you (as into a group).
  if (await hasBlocked(s, other, me)) throw blockedError("You cannot start a conversation with this user");
  const at = now();
  try {
    const row = await insertConversation(
      s,
      { id: Bun.randomUUIDv7(), name: null, isGroup: false, createdBy: me, directKey: directKey(me, other), lastActivityAt: at, createdAt: at, updatedAt: at },
      [me, other],
    );
    await reportCreated(s, feed, hub, row, [me, other], at);
    return { row, created: true };
  } catch (error) {
    // Lost a race with the other user creating the same pair: theirs is the one.
    const raced = await findDirect(s, me, other);
    if (raced) return { row: raced, created: false };
    throw error;
  }
}

/** Reports a new conversation to the feed; resolves once its members' sockets joined it and saw it. */
async function reportCreated(s: Storage, feed: ChangeFeed, hub: Pick<Hub, "isOnline">, row: ConversationRow, memberIds: string[], at: number) {
  await feed.committedPending(
    row.id,
    memberViewRenderer(s, hub, row).then((viewFor): Change => ({ type: "conversation_created", conversationId: row.id, memberIds, viewFor, at })),
  );
}

export async function createConversation(s: Storage, feed: ChangeFeed, hub: Pick<Hub, "isOnline">, me: string, body: CreateConversationBody) {
  const others = [...new Set(body.participant_ids)].filter((id) => id !== me);
  if (!body.is_group) {
    if (others.length !== 1) {
      throw unprocessable("participant_ids", "a direct conversation needs exactly one other participant (set is_group for more)");
    }
    return findOrCreateDirect(s, feed, hub, me, others[0]!);
  }
  const name = body.name?.trim();
  if (!name) throw unprocessable("name", "a group needs a name");
  if (isInvisibleOnly(name)) throw unprocessable("name", "must contain a visible character");
  if (others.length === 0) throw unprocessable("participant_ids", "a group needs at least one other participant");
  await assertUsersExist(s, others);
  // Creating a group adds its members: someone who blocked the creator cannot be put in it.
  await assertNotBlockedBy(s, me, others);
  const at = now();
  const row = await insertConversation(
    s,
    { id: Bun.randomUUIDv7(), name, isGroup: true, createdBy: me, directKey: null, lastActivityAt: at, createdAt: at, updatedAt: at },
    [me, ...others],
  );
  await reportCreated(s, feed, hub, row, [me, ...others], at);
  return { row, created: true };
}

/** Renames a group: a change (next rev) reported as conversation_updated; the same name is no change. */
export async function renameConversation(
  s: Storage,
  feed: ChangeFeed,
  hub: Pick<Hub, "isOnline">,
  me: string,
  conversationId: string,
  name: string | null | undefined,
) {
  const row = await getConversationRow(s, me, conversationId);
  if (name === undefined) return row;
  if (!row.isGroup) throw unprocessable("name", "a direct conversation cannot be renamed");
  const trimmed = name?.trim();
  if (!trimmed) throw unprocessable("name", "a group needs a name");
  if (isInvisibleOnly(trimmed)) throw unprocessable("name", "must contain a visible character");
  if (trimmed === row.name) return row;
  const revision = await commitRevision(s, conversationId, { meta: true }, (tx) => tx.conversations.rename(conversationId, trimmed) as Awaitable<ConversationRow>);
  if (!revision) return row;
  await reportConversationUpdated(s, feed, hub, conversationId, revision.result, revision.rev, revision.at, { added: [], removed: [] });
  return revision.result;
}

/**
 * Reports a committed change to a conversation itself (name, members, roles) to the feed, called
 * right after the commit: its place in the conversation's event order is taken at once, and the
 * reads after it (the row, members, views) finish inside the feed. Resolves to the row.
 */
export async function reportConversationUpdated(
  s: Storage,
  feed: ChangeFeed,
  hub: Pick<Hub, "isOnline">,
  conversationId: string,
  row: Awaitable<ConversationRow>,
  rev: number,
  at: number,
  moves: { added: string[]; removed: string[] },
): Promise<ConversationRow> {
  const read = Promise.resolve(row).then((current) =>
    Promise.all([current, s.stores.conversations.memberIds(current.id), memberViewRenderer(s, hub, current)]),
  );
  await feed.committedPending(
    conversationId,
    read.then(([, memberIds, viewFor]): Change => ({ type: "conversation_updated", conversationId, rev, memberIds, ...moves, viewFor, at })),
  );
  return (await read)[0];
}

export async function getConversationRow({ stores }: Storage, me: string, conversationId: string): Promise<ConversationRow> {
  const row = await stores.conversations.forMember(conversationId, me);
  if (!row) throw notFound("Conversation");
  return row;
}

export const listConversationRows = ({ stores }: Storage, me: string, limit: number, offset: number): Awaitable<ConversationRow[]> =>
  stores.conversations.listForMember(me, limit, offset);

/**
 * Builds views for a page of conversations with a fixed number of queries, not one per row. With
 * `participantsCap`, each lists at most that many members plus the caller (the list route); without,
 * everyone.
 */
export async function toConversationViews(
  s: Storage,
  hub: Pick<Hub, "isOnline">,
  me: string,
  rows: ConversationRow[],
  participantsCap = Number.MAX_SAFE_INTEGER,
): Promise<ConversationView[]> {
  if (rows.length === 0) return [];
  const { stores } = s;
  const ids = rows.map((r) => r.id);
  const participants = new Map<string, ReturnType<typeof toUserView>[]>();
  const memberViews = new Map<string, MemberView[]>();
  const mine = new Map<string, ParticipantRow>();
  const [listed, counts, latest, unreadRows] = await Promise.all([
    stores.conversations.participants(me, ids, participantsCap),
    stores.conversations.memberCounts(ids),
    // Each conversation's message at its last_seq (the newest), for last_message.
    andThenAll(rows.map((r) => (r.lastSeq > 0 ? stores.messages.page(r.id, { limit: 1 }) : []))),
    unreadCounts(s, me, ids),
  ]);
  for (const p of listed) {
    const list = participants.get(p.conversationId) ?? [];
    list.push(toUserView(p.user, hub, p.user.id === me));
    participants.set(p.conversationId, list);
    const roles = memberViews.get(p.conversationId) ?? [];
    roles.push({ user_id: p.user.id, role: p.role, joined_at: iso(p.joinedAt) });
    memberViews.set(p.conversationId, roles);
    if (p.user.id === me) mine.set(p.conversationId, p);
  }
  const at = now();
  const lastMessages = new Map<string, MessageRecord>();
  for (const page of latest) if (page[0]) lastMessages.set(page[0].conversation_id, page[0]);
  const unread = new Map(unreadRows.map((u) => [u.conversation_id, u.unread_count]));
  const states = await andThenAll(rows.map((r) => (lastMessages.has(r.id) ? readState(s, r.id, me) : null)));
  return rows.map((r, i) => {
    const last = lastMessages.get(r.id);
    const state = states[i];
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
export function conversationIdsOf({ stores }: Storage, userId: string): Awaitable<string[]> {
  return stores.conversations.conversationIdsOf(userId);
}

/** Everyone who shares a conversation with the user (presence goes to them). */
export function contactIdsOf({ stores }: Storage, userId: string): Awaitable<string[]> {
  return stores.conversations.contactIdsOf(userId);
}

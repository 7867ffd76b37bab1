// Messages: membership checks, pages by seq, read cursors, unread counts. Hot queries are
// prepared once per connection (bun:sqlite caches `query()`), not rebuilt per call.
import type { Db } from "../../db/client";
import { notFound, unprocessable } from "../../errors";
import { iso, now } from "../../lib/time";
import type { ChangeFeed } from "../../ports/changes";
import type { PageOptions, ReadReceipt } from "./model";
import { conversationStates, type ReadState } from "./conversation-state";
import { encodeMessage, MESSAGE_COLUMNS, renderPage, type MessageRecord } from "./message-view";
import { RecentMessages } from "./recent";
import { loadReactions } from "./reaction-tallies";

export { MESSAGE_COLUMNS, messageColumns, toMessageView, type MessageRecord } from "./message-view";
export type { PageOptions } from "./model";

export type { ReadState };

export const isReadFor = (m: Pick<MessageRecord, "sender_id" | "seq">, userId: string, state: ReadState) =>
  m.sender_id === userId ? state.othersMin >= m.seq : state.mine >= m.seq;

export function readState(db: Db, conversationId: string, userId: string): ReadState | null {
  const row = db.$client
    .query<{ mine: number | null; others_min: number | null }, [string, string, string]>(
      `SELECT (SELECT last_read_seq FROM members WHERE conversation_id = ?1 AND user_id = ?2) AS mine,
              (SELECT min(last_read_seq) FROM members WHERE conversation_id = ?1 AND user_id != ?3) AS others_min`,
    )
    .get(conversationId, userId, userId);
  if (!row || row.mine === null) return null;
  // With no other member (a group of one), your own messages count as read.
  return { mine: row.mine, othersMin: row.others_min ?? Number.MAX_SAFE_INTEGER };
}

export function isMember(db: Db, conversationId: string, userId: string): boolean {
  return (
    db.$client
      .query<{ one: number }, [string, string]>("SELECT 1 AS one FROM members WHERE conversation_id = ? AND user_id = ?")
      .get(conversationId, userId) !== null
  );
}

export function fetchMessages(db: Db, conversationId: string, page: PageOptions): MessageRecord[] {
  const q = db.$client;
  if (page.after !== undefined) {
    return q
      .query<MessageRecord, [string, number, number]>(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?`,
      )
      .all(conversationId, page.after, page.limit);
  }
  // Latest N (or the N before a seq): read newest-first through the index, then flip.
  const rows =
    page.before !== undefined
      ? q
          .query<MessageRecord, [string, number, number]>(
            `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
          )
          .all(conversationId, page.before, page.limit)
      : q
          .query<MessageRecord, [string, number]>(
            `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?`,
          )
          .all(conversationId, page.limit);
  return rows.reverse();
}

/** Encodes rows for a page with their reactions (one query for all of them). */
export function encodeWithReactions(db: Db, rows: MessageRecord[]) {
  const reactions = loadReactions(db.$client, rows.map((r) => r.id));
  return rows.map((r) => encodeMessage(r, reactions.get(r.id)));
}

const recentByDb = new WeakMap<Db, RecentMessages>();
function recentMessages(db: Db): RecentMessages {
  let recent = recentByDb.get(db);
  if (!recent) recentByDb.set(db, (recent = new RecentMessages(db)));
  return recent;
}

/**
 * A page of messages as the UTF-8 JSON array the route sends. Recent pages come from the in-memory
 * window; older history is read and encoded the same way, so both give byte-identical bodies.
 */
export function messagePageJson(db: Db, userId: string, conversationId: string, page: PageOptions): Uint8Array<ArrayBuffer> {
  if (page.before !== undefined && page.after !== undefined) {
    throw unprocessable("before", "use either before or after, not both");
  }
  const head = conversationStates(db).readState(conversationId, userId);
  if (!head) throw notFound("Conversation");
  const messages =
    page.replyTo !== undefined
      ? encodeWithReactions(db, fetchReplies(db, conversationId, page.replyTo, page))
      : (recentMessages(db).page(conversationId, head, page) ?? encodeWithReactions(db, fetchMessages(db, conversationId, page)));
  const { mine, othersMin } = head;
  return renderPage(messages, (m) => (m.senderId === userId ? othersMin >= m.seq : mine >= m.seq), userId);
}

/** The replies to a message, paged by seq like the main page (index messages_reply_to). */
function fetchReplies(db: Db, conversationId: string, parentId: string, page: PageOptions): MessageRecord[] {
  const parent = db.$client.query<{ conversation_id: string }, [string]>("SELECT conversation_id FROM messages WHERE id = ?").get(parentId);
  if (parent?.conversation_id !== conversationId) throw unprocessable("reply_to", "must be the id of a message in this conversation");
  const q = db.$client;
  const base = `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE reply_to_id = ? AND seq`;
  if (page.after !== undefined) {
    return q.query<MessageRecord, [string, number, number]>(`${base} > ? ORDER BY seq ASC LIMIT ?`).all(parentId, page.after, page.limit);
  }
  const before = page.before ?? Number.MAX_SAFE_INTEGER;
  return q.query<MessageRecord, [string, number, number]>(`${base} < ? ORDER BY seq DESC LIMIT ?`).all(parentId, before, page.limit).reverse();
}

export function findMessage(db: Db, messageId: string): MessageRecord | null {
  return db.$client
    .query<MessageRecord, [string]>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = ?`)
    .get(messageId);
}

/** Moves the caller's read cursor forward to the message (never back) and tells the conversation. */
export function markRead(db: Db, feed: ChangeFeed, userId: string, messageId: string): ReadReceipt {
  const message = findMessage(db, messageId);
  if (!message || !isMember(db, message.conversation_id, userId)) throw notFound("Message");
  const at = now();
  const moved = db.$client
    .query<{ last_read_seq: number }, [number, number, number, string, string, number]>(
      // Reading implies delivery: the delivered cursor never stays below the read one.
      `UPDATE members SET last_read_seq = ?, last_read_at = ?, last_delivered_seq = max(last_delivered_seq, ?)
       WHERE conversation_id = ? AND user_id = ? AND last_read_seq < ? RETURNING last_read_seq`,
    )
    .get(message.seq, at, message.seq, message.conversation_id, userId, message.seq);
  const current = db.$client
    .query<{ last_read_seq: number; last_read_at: number | null }, [string, string]>(
      "SELECT last_read_seq, last_read_at FROM members WHERE conversation_id = ? AND user_id = ?",
    )
    .get(message.conversation_id, userId)!;
  const receipt: ReadReceipt = {
    message_id: message.id,
    conversation_id: message.conversation_id,
    user_id: userId,
    last_read_seq: current.last_read_seq,
    read_at: iso(current.last_read_at ?? at),
  };
  if (moved) {
    const { read_at: _readAt, ...rest } = receipt;
    feed.committed({ type: "read_moved", receipt: rest, at });
  }
  return receipt;
}

export interface UnreadCount {
  conversation_id: string;
  unread_count: number;
  /** Of those, the messages that mention the caller. */
  mention_count: number;
  /** Muted for the caller now (muted, and muted_until unset or ahead): left out of the total. */
  muted: boolean;
}

/**
 * Messages from others above the caller's cursor, per conversation with any (zeros omitted), with
 * the ones that mention the caller. Tombstones are not unread. One pass over the unread ranges
 * (messages_conversation_seq); the mention test is a substring check on the row already read.
 */
export function unreadCounts(db: Db, userId: string, onlyConversationIds?: string[]): UnreadCount[] {
  const filter = onlyConversationIds
    ? `AND mb.conversation_id IN (${onlyConversationIds.map(() => "?").join(",")})`
    : "";
  if (onlyConversationIds && onlyConversationIds.length === 0) return [];
  const rows = db.$client
    .query<{ conversation_id: string; unread_count: number; mention_count: number; muted: number }, (string | number)[]>(
      `SELECT m.conversation_id AS conversation_id, count(*) AS unread_count,
              coalesce(sum(instr(m.mentions, ?1) > 0), 0) AS mention_count,
              mb.muted AND (mb.muted_until IS NULL OR mb.muted_until > ?2) AS muted
       FROM members mb JOIN messages m ON m.conversation_id = mb.conversation_id AND m.seq > mb.last_read_seq
       WHERE mb.user_id = ?1 AND m.sender_id != ?1 AND m.deleted_at IS NULL ${filter}
       GROUP BY m.conversation_id ORDER BY m.conversation_id`,
    )
    .all(userId, now(), ...(onlyConversationIds ?? []));
  return rows.map((r) => ({ ...r, muted: Boolean(r.muted) }));
}

/** The totals of GET /messages/unread/count: muted conversations count for mentions only. */
export function unreadTotals(conversations: UnreadCount[]) {
  let unread = 0;
  let mentions = 0;
  for (const c of conversations) {
    if (!c.muted) unread += c.unread_count;
    mentions += c.mention_count;
  }
  return { unread_count: unread, mention_count: mentions, conversations };
}

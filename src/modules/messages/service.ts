// Messages: membership checks, pages by seq, read cursors, unread counts. Hot queries are
// prepared once per connection (bun:sqlite caches `query()`), not rebuilt per call.
import type { Db } from "../../db/client";
import { notFound, unprocessable } from "../../errors";
import { iso, now } from "../../lib/time";
import type { ChangeFeed } from "../../ports/changes";
import type { UnreadRow } from "../../ports/stores";
import type { PageOptions, ReadReceipt } from "./model";
import type { ReadState } from "./conversation-state";
import { encodeMessage, renderPage, type MessageRecord } from "./message-view";
import type { MessageCaches } from "./recent";
import { sqliteStoresOf } from "../storage-bridge";

export { toMessageView, type MessageRecord } from "./message-view";
export type { PageOptions } from "./model";

export type { ReadState };

export const isReadFor = (m: Pick<MessageRecord, "sender_id" | "seq">, userId: string, state: ReadState) =>
  m.sender_id === userId ? state.othersMin >= m.seq : state.mine >= m.seq;

export const readState = (db: Db, conversationId: string, userId: string): ReadState | null =>
  sqliteStoresOf(db).messages.readCursors(conversationId, userId);

export const isMember = (db: Db, conversationId: string, userId: string): boolean =>
  sqliteStoresOf(db).conversations.roleOf(conversationId, userId) !== null;

export const fetchMessages = (db: Db, conversationId: string, page: PageOptions): MessageRecord[] =>
  sqliteStoresOf(db).messages.page(conversationId, page);

/** Encodes rows for a page with their reactions (one query for all of them). */
export function encodeWithReactions(db: Db, rows: MessageRecord[]) {
  const reactions = sqliteStoresOf(db).messages.reactions(rows.map((r) => r.id));
  return rows.map((r) => encodeMessage(r, reactions.get(r.id)));
}

/**
 * A page of messages as the UTF-8 JSON array the route sends. Recent pages come from the in-memory
 * window; older history is read and encoded the same way, so both give byte-identical bodies.
 */
export function messagePageJson(
  { db, caches }: { db: Db; caches: Pick<MessageCaches, "recentMessages" | "conversationStates"> },
  userId: string,
  conversationId: string,
  page: PageOptions,
): Uint8Array<ArrayBuffer> {
  if (page.before !== undefined && page.after !== undefined) {
    throw unprocessable("before", "use either before or after, not both");
  }
  const head = caches.conversationStates.readState(conversationId, userId);
  if (!head) throw notFound("Conversation");
  const messages =
    page.replyTo !== undefined
      ? encodeWithReactions(db, fetchReplies(db, conversationId, page.replyTo, page))
      : (caches.recentMessages.page(conversationId, head, page) ?? encodeWithReactions(db, fetchMessages(db, conversationId, page)));
  const { mine, othersMin } = head;
  return renderPage(messages, (m) => (m.senderId === userId ? othersMin >= m.seq : mine >= m.seq), userId);
}

/** The replies to a message, paged by seq like the main page. */
function fetchReplies(db: Db, conversationId: string, parentId: string, page: PageOptions): MessageRecord[] {
  const { messages } = sqliteStoresOf(db);
  if (messages.replyTarget(parentId)?.conversationId !== conversationId) {
    throw unprocessable("reply_to", "must be the id of a message in this conversation");
  }
  return messages.replies(parentId, page);
}

export const findMessage = (db: Db, messageId: string): MessageRecord | null => sqliteStoresOf(db).messages.byId(messageId);

/** Moves the caller's read cursor forward to the message (never back) and tells the conversation. */
export function markRead(db: Db, feed: ChangeFeed, userId: string, messageId: string): ReadReceipt {
  const message = findMessage(db, messageId);
  if (!message || !isMember(db, message.conversation_id, userId)) throw notFound("Message");
  const at = now();
  const current = sqliteStoresOf(db).messages.markRead(message.conversation_id, userId, message.seq, at);
  if (!current) throw notFound("Message");
  const receipt: ReadReceipt = {
    message_id: message.id,
    conversation_id: message.conversation_id,
    user_id: userId,
    last_read_seq: current.lastReadSeq,
    read_at: iso(current.lastReadAt ?? at),
  };
  if (current.moved) {
    const { read_at: _readAt, ...rest } = receipt;
    feed.committed({ type: "read_moved", receipt: rest, at });
  }
  return receipt;
}

/** Unread messages of one conversation, with the ones that mention the caller; muted ones are left out of the total. */
export type UnreadCount = UnreadRow;

/**
 * Messages from others above the caller's cursor, per conversation with any (zeros omitted), with
 * the ones that mention the caller. Tombstones are not unread. One pass over the unread ranges
 * (messages_conversation_seq); the mention test is a substring check on the row already read.
 */
export const unreadCounts = (db: Db, userId: string, onlyConversationIds?: string[]): UnreadCount[] =>
  sqliteStoresOf(db).messages.unread(userId, now(), onlyConversationIds);

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

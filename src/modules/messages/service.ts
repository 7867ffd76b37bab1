// Messages: membership checks, pages by seq, read cursors, unread counts. The page read is a hot
// path: it chains with andThen, so a synchronous store (SQLite) costs no promise or microtask.
import { notFound, unprocessable } from "../../errors";
import { iso, now } from "../../lib/time";
import type { ChangeFeed } from "../../ports/changes";
import { andThen, type Awaitable, type Storage, type UnreadRow } from "../../ports/stores";
import type { PageOptions, ReadReceipt } from "./model";
import type { ReadState } from "./conversation-state";
import { encodeMessage, renderPage, type EncodedMessage, type MessageRecord } from "./message-view";
import type { MessageCaches } from "./recent";

export { toMessageView, type MessageRecord } from "./message-view";
export type { PageOptions } from "./model";

export type { ReadState };

export const isReadFor = (m: Pick<MessageRecord, "sender_id" | "seq">, userId: string, state: ReadState) =>
  m.sender_id === userId ? state.othersMin >= m.seq : state.mine >= m.seq;

export const readState = ({ stores }: Storage, conversationId: string, userId: string): Awaitable<ReadState | null> =>
  stores.messages.readCursors(conversationId, userId);

export const fetchMessages = ({ stores }: Pick<Storage, "stores">, conversationId: string, page: PageOptions): Awaitable<MessageRecord[]> =>
  stores.messages.page(conversationId, page);

/** Encodes rows for a page with their reactions (one query for all of them). */
export function encodeWithReactions({ stores }: Pick<Storage, "stores">, rows: MessageRecord[]) {
  return andThen(stores.messages.reactions(rows.map((r) => r.id)), (reactions) => rows.map((r) => encodeMessage(r, reactions.get(r.id))));
}

/**
 * A page of messages as the UTF-8 JSON array the route sends. Recent pages come from the in-memory
 * window; older history is read and encoded the same way, so both give byte-identical bodies.
 */
export function messagePageJson(
  s: { stores: Storage["stores"]; caches: Pick<MessageCaches, "recentMessages" | "conversationStates"> },
  userId: string,
  conversationId: string,
  page: PageOptions,
): Awaitable<Uint8Array<ArrayBuffer>> {
  if (page.before !== undefined && page.after !== undefined) {
    throw unprocessable("before", "use either before or after, not both");
  }
  return andThen(s.caches.conversationStates.readState(conversationId, userId), (head) => {
    if (!head) throw notFound("Conversation");
    const { mine, othersMin } = head;
    const render = (messages: EncodedMessage[]) => renderPage(messages, (m) => (m.senderId === userId ? othersMin >= m.seq : mine >= m.seq), userId);
    if (page.replyTo !== undefined) return andThen(andThen(fetchReplies(s, conversationId, page.replyTo, page), (rows) => encodeWithReactions(s, rows)), render);
    const recent = s.caches.recentMessages.page(conversationId, head, page);
    if (recent) return render(recent);
    return andThen(andThen(fetchMessages(s, conversationId, page), (rows) => encodeWithReactions(s, rows)), render);
  });
}

/** The replies to a message, paged by seq like the main page. */
function fetchReplies({ stores }: Pick<Storage, "stores">, conversationId: string, parentId: string, page: PageOptions): Awaitable<MessageRecord[]> {
  return andThen(stores.messages.replyTarget(parentId), (target) => {
    if (target?.conversationId !== conversationId) throw unprocessable("reply_to", "must be the id of a message in this conversation");
    return stores.messages.replies(parentId, page);
  });
}

export const findMessage = ({ stores }: Storage, messageId: string): Awaitable<MessageRecord | null> => stores.messages.byId(messageId);

/** Moves the caller's read cursor forward to the message (never back) and tells the conversation. */
export async function markRead(s: Storage, feed: ChangeFeed, userId: string, messageId: string): Promise<ReadReceipt> {
  const message = await findMessage(s, messageId);
  if (!message || (await s.stores.conversations.roleOf(message.conversation_id, userId)) === null) throw notFound("Message");
  const at = now();
  const current = await s.stores.messages.markRead(message.conversation_id, userId, message.seq, at);
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
export const unreadCounts = ({ stores }: Storage, userId: string, onlyConversationIds?: string[]): Awaitable<UnreadCount[]> =>
  stores.messages.unread(userId, now(), onlyConversationIds);

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

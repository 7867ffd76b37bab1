// The one send path shared by REST and sockets: validate, resolve the conversation, then the writer.
// The socket's hot path: every step chains with andThen, so on a synchronous store (SQLite) a send
// is prepared without a promise or a microtask; a networked store makes the result a promise.
import { notFound, unprocessable } from "../../errors";
import type { Hub } from "../../ports/bus";
import type { ChangeFeed } from "../../ports/changes";
import { andThen, type Awaitable, type Storage } from "../../ports/stores";
import { checkAttachmentsForSend } from "../attachments/service";
import { blockedError, hasBlocked } from "../blocks/service";
import { findOrCreateDirect } from "../conversations/service";
import { normalizeContent } from "./content";
import { findMentions } from "./mentions";
import type { SendRequest } from "./writer";

export interface SendInput {
  conversationId?: string | null;
  recipientId?: string | null;
  content: unknown;
  clientMsgId?: string | null;
  /** Attachments (issue 14): unchecked input, validated here. */
  attachmentIds?: unknown;
  replyToId?: string | null;
}

/** With attachments the text may be empty. */
const hasNoText = (content: unknown) => content === undefined || content === null || (typeof content === "string" && content.trim() === "");

export function prepareSend(s: Storage, feed: ChangeFeed, hub: Pick<Hub, "isOnline">, senderId: string, input: SendInput): Awaitable<SendRequest> {
  const withFiles = Array.isArray(input.attachmentIds) && input.attachmentIds.length > 0;
  const content = withFiles && hasNoText(input.content) ? "" : normalizeContent(input.content);
  if (input.conversationId) return prepareIn(s, senderId, input.conversationId, content, input);
  if (!input.recipientId) throw unprocessable("conversation_id", "conversation_id or recipient_id is required");
  return findOrCreateDirect(s, feed, hub, senderId, input.recipientId, "recipient_id").then(({ row }) => prepareIn(s, senderId, row.id, content, input));
}

function prepareIn(s: Storage, senderId: string, conversationId: string, content: string, input: SendInput): Awaitable<SendRequest> {
  // From memory: the membership check runs on every send.
  return andThen(s.caches.conversationStates.get(conversationId), (state) => {
    if (!state || !state.cursors.has(senderId)) throw notFound("Conversation");
    const recipientId = state.isGroup ? null : ([...state.cursors.keys()].find((id) => id !== senderId) ?? null);
    // Someone the other member blocked cannot write to them (also from memory).
    return andThen(recipientId === null ? false : hasBlocked(s, recipientId, senderId), (blocked) => {
      if (blocked) throw blockedError("You cannot send messages in this conversation");
      const clientMsgId = input.clientMsgId ?? null;
      const attachmentIds = checkAttachmentsForSend(s, senderId, input.attachmentIds, { conversationId, clientMsgId });
      const replyToId = input.replyToId ? checkReplyTo(s, conversationId, input.replyToId.toLowerCase()) : null;
      const mentions = findMentions(s, conversationId, content);
      const request = (attachmentIds: string[], replyToId: string | null, mentions: string[]): SendRequest => ({
        conversationId,
        senderId,
        recipientId,
        content,
        clientMsgId,
        attachmentIds,
        replyToId,
        mentions,
      });
      // Checked one by one rather than through an array: this runs for every message sent.
      if (attachmentIds instanceof Promise || replyToId instanceof Promise || mentions instanceof Promise) {
        return Promise.all([attachmentIds, replyToId, mentions]).then(([a, r, m]) => request(a, r, m));
      }
      return request(attachmentIds, replyToId, mentions);
    });
  });
}

/** A reply answers a live message of the same conversation; anything else is the client's mistake. */
function checkReplyTo({ stores }: Storage, conversationId: string, replyToId: string): Awaitable<string> {
  return andThen(stores.messages.replyTarget(replyToId), (parent) => {
    if (!parent || parent.conversationId !== conversationId) {
      throw unprocessable("reply_to_id", "must be the id of a message in this conversation");
    }
    if (parent.deleted) throw unprocessable("reply_to_id", "the message replied to was deleted");
    return replyToId;
  });
}

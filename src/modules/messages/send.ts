// The one send path shared by REST and sockets: validate, resolve the conversation, then the writer.
import type { Db } from "../../db/client";
import { notFound, unprocessable } from "../../errors";
import type { ChangeFeed } from "../../ports/changes";
import { checkAttachmentsForSend } from "../attachments/service";
import { blockedError, hasBlocked } from "../blocks/service";
import { findOrCreateDirect } from "../conversations/service";
import { sqliteStoresOf } from "../storage-bridge";
import { normalizeContent } from "./content";
import { conversationStates } from "./conversation-state";
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

export function prepareSend(db: Db, feed: ChangeFeed, senderId: string, input: SendInput): SendRequest {
  const withFiles = Array.isArray(input.attachmentIds) && input.attachmentIds.length > 0;
  const content = withFiles && hasNoText(input.content) ? "" : normalizeContent(input.content);
  let conversationId = input.conversationId ?? null;
  if (!conversationId) {
    if (!input.recipientId) throw unprocessable("conversation_id", "conversation_id or recipient_id is required");
    conversationId = findOrCreateDirect(db, feed, senderId, input.recipientId, "recipient_id").row.id;
  }
  // From memory: the membership check runs on every send.
  const state = conversationStates(db).get(conversationId);
  if (!state || !state.cursors.has(senderId)) throw notFound("Conversation");
  const recipientId = state.isGroup ? null : ([...state.cursors.keys()].find((id) => id !== senderId) ?? null);
  // Someone the other member blocked cannot write to them (also from memory).
  if (recipientId !== null && hasBlocked(db, recipientId, senderId)) throw blockedError("You cannot send messages in this conversation");
  return {
    conversationId,
    senderId,
    recipientId,
    content,
    clientMsgId: input.clientMsgId ?? null,
    attachmentIds: checkAttachmentsForSend(db, senderId, input.attachmentIds, { conversationId, clientMsgId: input.clientMsgId ?? null }),
    replyToId: input.replyToId ? checkReplyTo(db, conversationId, input.replyToId.toLowerCase()) : null,
    mentions: findMentions(db, conversationId, content),
  };
}

/** A reply answers a live message of the same conversation; anything else is the client's mistake. */
function checkReplyTo(db: Db, conversationId: string, replyToId: string): string {
  const parent = sqliteStoresOf(db).messages.replyTarget(replyToId);
  if (!parent || parent.conversationId !== conversationId) {
    throw unprocessable("reply_to_id", "must be the id of a message in this conversation");
  }
  if (parent.deleted) throw unprocessable("reply_to_id", "the message replied to was deleted");
  return replyToId;
}

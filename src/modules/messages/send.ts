// The one send path shared by REST and sockets: validate, resolve the conversation, then the writer.
import type { Db } from "../../db/client";
import { notFound, unprocessable } from "../../errors";
import type { ChangeFeed } from "../../ports/changes";
import { blockedError, hasBlocked } from "../blocks/service";
import { findOrCreateDirect } from "../conversations/service";
import { normalizeContent } from "./content";
import { conversationStates } from "./conversation-state";
import type { SendRequest } from "./writer";

export interface SendInput {
  conversationId?: string | null;
  recipientId?: string | null;
  content: unknown;
  clientMsgId?: string | null;
}

export function prepareSend(db: Db, feed: ChangeFeed, senderId: string, input: SendInput): SendRequest {
  const content = normalizeContent(input.content);
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
  };
}

// The one send path shared by REST and sockets: validate, resolve the conversation, then the writer.
import type { Db } from "../../db/client";
import { notFound, unprocessable } from "../../errors";
import type { Hub } from "../../realtime/hub";
import { findOrCreateDirect } from "../conversations/service";
import { normalizeContent } from "./service";
import type { SendRequest } from "./writer";

export interface SendInput {
  conversationId?: string | null;
  recipientId?: string | null;
  content: unknown;
  clientMsgId?: string | null;
}

export function prepareSend(db: Db, hub: Hub, senderId: string, input: SendInput): SendRequest {
  const content = normalizeContent(input.content);
  let conversationId = input.conversationId ?? null;
  if (!conversationId) {
    if (!input.recipientId) throw unprocessable("conversation_id", "conversation_id or recipient_id is required");
    conversationId = findOrCreateDirect(db, hub, senderId, input.recipientId).row.id;
  }
  const row = db.$client
    .query<{ is_group: number; other: string | null }, [string, string, string]>(
      `SELECT c.is_group AS is_group,
              (SELECT user_id FROM members WHERE conversation_id = c.id AND user_id != ?1 LIMIT 1) AS other
       FROM conversations c JOIN members mb ON mb.conversation_id = c.id AND mb.user_id = ?2
       WHERE c.id = ?3`,
    )
    .get(senderId, senderId, conversationId);
  if (!row) throw notFound("Conversation");
  return {
    conversationId,
    senderId,
    recipientId: row.is_group ? null : row.other,
    content,
    clientMsgId: input.clientMsgId ?? null,
  };
}

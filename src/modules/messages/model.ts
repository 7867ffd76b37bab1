// Message schemas: the view, the send body, pages, read receipts and unread counts.
import { t, type Static } from "elysia";
import { AttachmentView, MAX_ATTACHMENTS_PER_MESSAGE } from "../attachments/model";
import { Limit, QueryInt, Timestamp, Uuid, UuidInput } from "../shared-model";

export const MAX_CONTENT_LENGTH = 4000;
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;
export const ClientMsgId = t.String({ minLength: 1, maxLength: 128, description: "Client-chosen idempotency key" });

export const Reaction = t.Object({
  emoji: t.String(),
  count: t.Integer({ minimum: 1 }),
  me: t.Boolean({ description: "Whether the caller reacted with this emoji" }),
});

export const MessageView = t.Object({
  id: Uuid,
  conversation_id: Uuid,
  sender_id: Uuid,
  recipient_id: t.Union([Uuid, t.Null()]),
  content: t.String(),
  seq: t.Integer({ minimum: 1 }),
  rev: t.Integer({ minimum: 0, description: "The conversation's rev at this message's last change" }),
  client_msg_id: t.Union([t.String(), t.Null()]),
  is_read: t.Boolean(),
  reply_to_id: t.Union([Uuid, t.Null()]),
  reply_count: t.Integer({ minimum: 0 }),
  mentions: t.Array(Uuid, { description: "Members mentioned as @username in the content" }),
  reactions: t.Array(Reaction),
  edited_at: t.Union([Timestamp, t.Null()]),
  deleted_at: t.Union([Timestamp, t.Null()], { description: "Set on a tombstone: content is empty, seq stays" }),
  created_at: Timestamp,
  updated_at: Timestamp,
  // Attachments (issue 14), in the order they were sent.
  attachments: t.Array(AttachmentView),
});
export type MessageView = Static<typeof MessageView>;

export const SendMessageBody = t.Object(
  {
    // Length is checked after trimming in the service; this bound only stops huge bodies early.
    content: t.Optional(t.String({ maxLength: MAX_CONTENT_LENGTH * 4, description: `1-${MAX_CONTENT_LENGTH} characters after trimming (may be empty or absent with attachment_ids)` })),
    client_msg_id: t.Optional(t.Union([ClientMsgId, t.Null()])),
    // Attachments (issue 14): uploads of the sender no other message uses.
    attachment_ids: t.Optional(
      t.Array(UuidInput, { maxItems: MAX_ATTACHMENTS_PER_MESSAGE, description: `Up to ${MAX_ATTACHMENTS_PER_MESSAGE} ids from POST /attachments, not yet used by a message` }),
    ),
    reply_to_id: t.Optional(
      t.Union([Uuid, t.Null()], { description: "A message of the same conversation (not deleted) this one replies to" }),
    ),
  },
  { additionalProperties: false },
);

export const EditMessageBody = t.Object(
  { content: t.String({ maxLength: MAX_CONTENT_LENGTH * 4, description: `1-${MAX_CONTENT_LENGTH} characters after trimming` }) },
  { additionalProperties: false },
);

export const MessagePageQuery = t.Object({
  limit: Limit(DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
  before: QueryInt("before", { minimum: 0, description: "Messages just before this seq" }),
  after: QueryInt("after", { minimum: 0, description: "Messages just after this seq (catch-up)" }),
  reply_to: t.Optional(t.String({ format: "uuid", description: "Only the replies to this message (same paging by seq)" })),
});

export const ReadReceipt = t.Object({
  message_id: Uuid,
  conversation_id: Uuid,
  user_id: Uuid,
  last_read_seq: t.Integer({ minimum: 0 }),
  read_at: Timestamp,
});
export type ReadReceipt = Static<typeof ReadReceipt>;

export const UnreadCounts = t.Object({
  unread_count: t.Integer({ minimum: 0, description: "Unread messages in conversations that are not muted" }),
  mention_count: t.Integer({ minimum: 0, description: "Unread messages that mention the caller, muted conversations included" }),
  conversations: t.Array(
    t.Object({
      conversation_id: Uuid,
      unread_count: t.Integer({ minimum: 1 }),
      mention_count: t.Integer({ minimum: 0 }),
      muted: t.Boolean({ description: "Muted for the caller: counted here, left out of the total unread_count" }),
    }),
  ),
});

export const DeliveredBody = t.Object(
  { seq: t.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: "The highest seq this device holds" }) },
  { additionalProperties: false },
);

export const DeliveryReceiptView = t.Object({
  conversation_id: Uuid,
  user_id: Uuid,
  last_delivered_seq: t.Integer({ minimum: 0 }),
});

export const ReceiptView = t.Object({
  user_id: Uuid,
  last_read_seq: t.Integer({ minimum: 0 }),
  last_delivered_seq: t.Integer({ minimum: 0, description: "Never below last_read_seq: reading implies delivery" }),
});

export interface PageOptions {
  limit: number;
  before?: number;
  after?: number;
  /** Only the replies to this message. */
  replyTo?: string;
}

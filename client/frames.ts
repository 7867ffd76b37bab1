// The socket protocol's frames as types (contract: API.md "WebSocket" and its v2 additions). The
// objects inside (Message, Conversation, User) are the server's own response schemas, imported as
// types only, so they cannot drift from what the routes declare and vanish from the browser bundle.
import type { ConversationView } from "../src/modules/conversations/model";
import type { MessageView, ReadReceipt } from "../src/modules/messages/model";

/** A message; `rev` is there on servers with revisions (v2). */
export type Message = MessageView & { rev?: number };
/** A conversation; `rev` is there on servers with revisions (v2). */
export type Conversation = ConversationView & { rev?: number };

interface Stamped {
  timestamp: string;
}

export interface ReadyFrame extends Stamped {
  type: "ready";
  user_id: string;
}
export interface NewMessageFrame extends Stamped {
  type: "new_message";
  message: Message;
  /** v2: the conversation's rev of this change. */
  rev?: number;
}
export interface MessageAckFrame {
  type: "message_ack";
  client_msg_id: string | null;
  message: Message;
  /** v2: the message's rev (the same as `message.rev`). */
  rev?: number;
}
export interface MessageReadFrame extends Stamped, Omit<ReadReceipt, "read_at"> {
  type: "message_read";
  read_at?: string;
}
export interface UserTypingFrame extends Stamped {
  type: "user_typing";
  user_id: string;
  conversation_id: string;
}
export interface PresenceFrame extends Stamped {
  type: "presence";
  user_id: string;
  is_online: boolean;
}
export interface PongFrame extends Stamped {
  type: "pong";
}
export interface SyncDoneFrame {
  type: "sync_done";
  has_more: boolean;
}
export interface ErrorFrame {
  type: "error";
  code: string;
  detail: string;
  /** The client_msg_id of the frame that failed, when it had one. */
  ref?: string;
}

// v2 frames (revisions, conversation life). A v1 server never sends them.
export interface MessageUpdatedFrame {
  type: "message_updated";
  message: Message;
  rev?: number;
  timestamp?: string;
}
export interface ConversationUpdatedFrame {
  type: "conversation_updated";
  conversation: Conversation;
  rev?: number;
  timestamp?: string;
}
export interface ConversationRemovedFrame {
  type: "conversation_removed";
  conversation_id: string;
  rev?: number;
  timestamp?: string;
}
export interface MessageDeliveredFrame {
  type: "message_delivered";
  conversation_id: string;
  user_id: string;
  last_delivered_seq: number;
  rev?: number;
  timestamp?: string;
}
/** Answer to a sync with `revs`: every message created or changed after the rev asked for. */
export interface ChangesFrame {
  type: "changes";
  conversation_id: string;
  rev: number;
  conversation?: Conversation | null;
  messages: Message[];
  has_more?: boolean;
}

export type ServerFrame =
  | ReadyFrame
  | NewMessageFrame
  | MessageAckFrame
  | MessageReadFrame
  | UserTypingFrame
  | PresenceFrame
  | PongFrame
  | SyncDoneFrame
  | ErrorFrame
  | MessageUpdatedFrame
  | ConversationUpdatedFrame
  | ConversationRemovedFrame
  | MessageDeliveredFrame
  | ChangesFrame;

export interface SendMessageFrame {
  type: "message";
  content: string;
  conversation_id?: string;
  /** Finds or creates the direct conversation with this user when conversation_id is left out. */
  recipient_id?: string;
  client_msg_id: string;
  /** v2: the parent message of a reply (same conversation). */
  reply_to_id?: string;
  /** v2: uploads (POST /api/v1/attachments) to attach, at most 10; `content` may then be "". */
  attachment_ids?: string[];
}

export type ClientFrame =
  | { token: string }
  | SendMessageFrame
  | { type: "mark_read"; message_id: string }
  | { type: "typing"; conversation_id: string }
  | { type: "received"; conversation_id: string; seq: number }
  | { type: "ping" }
  | { type: "sync"; since: Record<string, number>; revs?: Record<string, number> };

// The Message as clients see it, in its two encodings: toMessageView (objects for REST responses
// and frames) and encodeMessage (pre-encoded UTF-8 JSON for the recent-messages window). One file
// so a new field is added to both; test/message-encoding.test.ts checks both against the schema.
import { iso } from "../../lib/time";
import { attachmentsJson } from "../attachments/sql";
import type { MessageView } from "./model";

export interface MessageRecord {
  id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  recipient_id: string | null;
  content: string;
  client_msg_id: string | null;
  created_at: number;
  updated_at: number;
  /** Attachments (issue 14): the JSON array of the message's Attachments as SQLite renders it; absent = none. */
  attachments?: string;
}

const COLUMN_NAMES = ["id", "conversation_id", "seq", "sender_id", "recipient_id", "content", "client_msg_id", "created_at", "updated_at"];

/** The columns of a MessageRecord from `table` (a name or alias of messages), attachments included. */
export const messageColumns = (table = "messages") =>
  `${COLUMN_NAMES.map((c) => `${table}.${c}`).join(", ")}, ${attachmentsJson(`${table}.id`)} AS attachments`;

export const MESSAGE_COLUMNS = messageColumns();

// Attachments (issue 14): '[]' is by far the most common value, and costs no parse.
const attachmentsOf = (m: MessageRecord) => (m.attachments === undefined || m.attachments === "[]" ? [] : JSON.parse(m.attachments));

export function toMessageView(m: MessageRecord, isRead: boolean): MessageView {
  return {
    id: m.id,
    conversation_id: m.conversation_id,
    sender_id: m.sender_id,
    recipient_id: m.recipient_id,
    content: m.content,
    seq: m.seq,
    client_msg_id: m.client_msg_id,
    is_read: isRead,
    created_at: iso(m.created_at),
    updated_at: iso(m.updated_at),
    attachments: attachmentsOf(m),
  };
}

/**
 * One message as UTF-8 JSON, in both forms a reader can see (is_read true or false), each with a
 * leading comma so a page is a straight concatenation.
 */
export interface EncodedMessage {
  seq: number;
  senderId: string;
  /** `,{…,"is_read":true,…}` */
  read: Uint8Array;
  /** `,{…,"is_read":false,…}` */
  unread: Uint8Array;
}

const utf8 = new TextEncoder();

export function encodeMessage(m: MessageRecord): EncodedMessage {
  const head =
    `,{"id":${JSON.stringify(m.id)},"conversation_id":${JSON.stringify(m.conversation_id)},` +
    `"sender_id":${JSON.stringify(m.sender_id)},"recipient_id":${m.recipient_id === null ? "null" : JSON.stringify(m.recipient_id)},` +
    `"content":${JSON.stringify(m.content)},"seq":${m.seq},` +
    `"client_msg_id":${m.client_msg_id === null ? "null" : JSON.stringify(m.client_msg_id)},"is_read":`;
  const tail =
    `,"created_at":"${new Date(m.created_at).toISOString()}","updated_at":"${new Date(m.updated_at).toISOString()}"` +
    `,"attachments":${m.attachments ?? "[]"}}`;
  return { seq: m.seq, senderId: m.sender_id, read: utf8.encode(head + "true" + tail), unread: utf8.encode(head + "false" + tail) };
}

/**
 * The UTF-8 body `[…]` of the messages with is_read worked out for this reader: sized first, then
 * copied into one buffer, so no strings are built or re-encoded per request.
 */
export function renderPage(messages: EncodedMessage[], isRead: (m: EncodedMessage) => boolean): Uint8Array<ArrayBuffer> {
  if (messages.length === 0) return utf8.encode("[]");
  const parts = messages.map((m) => (isRead(m) ? m.read : m.unread));
  // Each part starts with a comma; the first one's becomes the opening bracket.
  let size = 1;
  for (const part of parts) size += part.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  out[0] = 0x5b; // [
  out[at] = 0x5d; // ]
  return out;
}

// The Message as clients see it, in its two encodings: toMessageView (objects for REST responses
// and frames) and encodeMessage (pre-encoded UTF-8 JSON for the recent-messages window). One file
// so a new field is added to both; test/message-encoding.test.ts checks both against the schema.
import { iso } from "../../lib/time";
import type { MessageRecord, ReactionTally } from "../../ports/stores";
import type { MessageView } from "./model";

export type { MessageRecord, ReactionTally };

// Attachments (issue 14): '[]' is by far the most common value, and costs no parse.
const attachmentsOf = (m: MessageRecord) => (m.attachments === undefined || m.attachments === "[]" ? [] : JSON.parse(m.attachments));

const mentionsOf = (m: MessageRecord): string[] => (m.mentions ? (JSON.parse(m.mentions) as string[]) : []);

/**
 * The view for one reader. `viewerId` decides `reactions[].me`; without reactions (the common case)
 * the view is the same for every reader but for is_read.
 */
export function toMessageView(m: MessageRecord, isRead: boolean, reactions?: ReactionTally[], viewerId?: string): MessageView {
  return {
    id: m.id,
    conversation_id: m.conversation_id,
    sender_id: m.sender_id,
    recipient_id: m.recipient_id,
    content: m.content,
    seq: m.seq,
    rev: m.rev,
    client_msg_id: m.client_msg_id,
    is_read: isRead,
    reply_to_id: m.reply_to_id,
    reply_count: m.reply_count,
    mentions: mentionsOf(m),
    reactions:
      m.deleted_at !== null || !reactions
        ? []
        : reactions.map((r) => ({ emoji: r.emoji, count: r.userIds.length, me: viewerId !== undefined && r.userIds.includes(viewerId) })),
    edited_at: m.edited_at === null ? null : iso(m.edited_at),
    deleted_at: m.deleted_at === null ? null : iso(m.deleted_at),
    created_at: iso(m.created_at),
    updated_at: iso(m.updated_at),
    // A tombstone has no attachments (their files are released with it).
    attachments: m.deleted_at === null ? attachmentsOf(m) : [],
  };
}

/**
 * One message as UTF-8 JSON, in both forms a reader can see (is_read true or false), each with a
 * leading comma so a page is a straight concatenation. A message with reactions depends on the
 * reader (`me`), so it keeps its record and is encoded per reader instead.
 */
export interface EncodedMessage {
  seq: number;
  senderId: string;
  /** `,{…,"is_read":true,…}` */
  read: Uint8Array;
  /** `,{…,"is_read":false,…}` */
  unread: Uint8Array;
  /** Set when the message has reactions: render with toMessageView for each reader. */
  perReader?: { record: MessageRecord; reactions: ReactionTally[] };
}

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

const str = (s: string | null) => (s === null ? "null" : JSON.stringify(s));
const time = (ms: number | null) => (ms === null ? "null" : `"${new Date(ms).toISOString()}"`);

export function encodeMessage(m: MessageRecord, reactions?: ReactionTally[]): EncodedMessage {
  if (reactions && reactions.length > 0 && m.deleted_at === null) {
    return { seq: m.seq, senderId: m.sender_id, read: EMPTY, unread: EMPTY, perReader: { record: m, reactions } };
  }
  const head =
    `,{"id":${JSON.stringify(m.id)},"conversation_id":${JSON.stringify(m.conversation_id)},` +
    `"sender_id":${JSON.stringify(m.sender_id)},"recipient_id":${str(m.recipient_id)},` +
    `"content":${JSON.stringify(m.content)},"seq":${m.seq},"rev":${m.rev},` +
    `"client_msg_id":${str(m.client_msg_id)},"is_read":`;
  const tail =
    `,"reply_to_id":${str(m.reply_to_id)},"reply_count":${m.reply_count},"mentions":${m.mentions ?? "[]"},"reactions":[],` +
    `"edited_at":${time(m.edited_at)},"deleted_at":${time(m.deleted_at)},` +
    `"created_at":${time(m.created_at)},"updated_at":${time(m.updated_at)},"attachments":${m.deleted_at === null ? (m.attachments ?? "[]") : "[]"}}`;
  return { seq: m.seq, senderId: m.sender_id, read: utf8.encode(head + "true" + tail), unread: utf8.encode(head + "false" + tail) };
}

/**
 * The UTF-8 body `[…]` of the messages with is_read worked out for this reader: sized first, then
 * copied into one buffer, so no strings are built or re-encoded per request (but for messages with
 * reactions, encoded for this reader).
 */
export function renderPage(
  messages: EncodedMessage[],
  isRead: (m: EncodedMessage) => boolean,
  viewerId: string,
): Uint8Array<ArrayBuffer> {
  if (messages.length === 0) return utf8.encode("[]");
  const parts = messages.map((m) =>
    m.perReader
      ? utf8.encode("," + JSON.stringify(toMessageView(m.perReader.record, isRead(m), m.perReader.reactions, viewerId)))
      : isRead(m)
        ? m.read
        : m.unread,
  );
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

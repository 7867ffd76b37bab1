// The message columns as PostgreSQL returns them, turned into the MessageRecord the SQLite paths
// produce (message-view.ts renders both): int8 times arrive as strings from Bun.sql and become
// numbers; attachments are the same JSON array text SQLite's json_group_array builds.
import type { MessageRecord } from "../../modules/messages/message-view";

const common = "'id', a.id, 'filename', a.filename, 'content_type', a.content_type, 'size', a.size, 'sha256', a.sha256";

/** One Attachment as JSON, fields in the schema's order; width/height only when known (as attachments/sql.ts). */
const ATTACHMENT_JSON =
  `CASE WHEN a.width IS NULL THEN json_build_object(${common}, 'created_at', chat_iso_ms(a.created_at)) ` +
  `ELSE json_build_object(${common}, 'width', a.width, 'height', a.height, 'created_at', chat_iso_ms(a.created_at)) END`;

/** The JSON array text of the attachments of the message `messageId` (an SQL expression), '[]' when none. */
export const attachmentsJsonPg = (messageId: string) =>
  `(SELECT coalesce(json_agg(${ATTACHMENT_JSON} ORDER BY ma.position), '[]'::json)::text FROM message_attachments ma ` +
  `JOIN attachments a ON a.id = ma.attachment_id WHERE ma.message_id = ${messageId})`;

const COLUMNS = "id, conversation_id, seq, sender_id, recipient_id, content, client_msg_id, rev, edited_at, deleted_at, reply_to_id, reply_count, mentions, created_at, updated_at".split(", ");

/** The columns of a MessageRecord from `table` (a name or alias of messages), attachments included. */
export const messageColumnsPg = (table = "messages") => `${COLUMNS.map((c) => `${table}.${c}`).join(", ")}, ${attachmentsJsonPg(`${table}.id`)} AS attachments`;

type Row = Record<string, unknown>;
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export function toMessageRecord(row: Row): MessageRecord {
  return {
    id: row.id as string,
    conversation_id: row.conversation_id as string,
    seq: Number(row.seq),
    sender_id: row.sender_id as string,
    recipient_id: (row.recipient_id as string | null) ?? null,
    content: row.content as string,
    client_msg_id: (row.client_msg_id as string | null) ?? null,
    rev: Number(row.rev),
    edited_at: num(row.edited_at),
    deleted_at: num(row.deleted_at),
    reply_to_id: (row.reply_to_id as string | null) ?? null,
    reply_count: Number(row.reply_count),
    mentions: (row.mentions as string | null) ?? null,
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
    ...(row.attachments === undefined ? {} : { attachments: row.attachments as string }),
  };
}

// The SQL fragments every path that reads or writes messages shares (the SQLite message store, the
// group commit inline or on the writer thread, search): plain strings with no imports, so the writer
// thread's bundle needs only bun:sqlite. Moved here from modules/ so db/ never imports a feature.

const created = "strftime('%Y-%m-%dT%H:%M:%fZ', a.created_at / 1000.0, 'unixepoch')";
const common = "'id', a.id, 'filename', a.filename, 'content_type', a.content_type, 'size', a.size, 'sha256', a.sha256";

/** One Attachment as JSON, fields in the schema's order; width/height only when known. */
const ATTACHMENT_JSON =
  `json(CASE WHEN a.width IS NULL THEN json_object(${common}, 'created_at', ${created}) ` +
  `ELSE json_object(${common}, 'width', a.width, 'height', a.height, 'created_at', ${created}) END)`;

/**
 * A column expression: the JSON array of the attachments of the message whose id is `messageId`
 * (an SQL expression such as `messages.id`), in the order they were sent; '[]' when none.
 */
export const attachmentsJson = (messageId: string) =>
  `(SELECT json_group_array(${ATTACHMENT_JSON} ORDER BY ma.position) FROM message_attachments ma ` +
  `JOIN attachments a ON a.id = ma.attachment_id WHERE ma.message_id = ${messageId})`;

/** Takes an upload for a message: only the owner's, and only once (changes() is 0 otherwise). */
export const CLAIM_ATTACHMENT = "UPDATE attachments SET claimed_at = ? WHERE id = ? AND owner_id = ? AND claimed_at IS NULL";
export const LINK_ATTACHMENT = "INSERT INTO message_attachments (message_id, attachment_id, position) VALUES (?, ?, ?)";

export { ATTACHMENT_CLAIM_FAILED } from "../ports/message-commit";

const COLUMN_NAMES = [
  "id",
  "conversation_id",
  "seq",
  "sender_id",
  "recipient_id",
  "content",
  "client_msg_id",
  "rev",
  "edited_at",
  "deleted_at",
  "reply_to_id",
  "reply_count",
  "mentions",
  "created_at",
  "updated_at",
];

/** The columns of a MessageRecord from `table` (a name or alias of messages), attachments included. */
export const messageColumns = (table = "messages") =>
  `${COLUMN_NAMES.map((c) => `${table}.${c}`).join(", ")}, ${attachmentsJson(`${table}.id`)} AS attachments`;

export const MESSAGE_COLUMNS = messageColumns();

// Attachments in the database: rows of uploads, who may see them, quota, the checks of a send that
// carries attachment_ids, releasing a deleted message's files and sweeping uploads no message used.
import type { Database } from "bun:sqlite";
import { dirname } from "node:path";
import type { Db } from "../../db/client";
import { notFound, unprocessable } from "../../errors";
import { iso } from "../../lib/time";
import { MAX_ATTACHMENTS_PER_MESSAGE, type AttachmentRow, type AttachmentView } from "./model";
import { filesDirOf, removeUnusedBlobs } from "./store";

const clientOf = (db: Db | Database): Database => ("$client" in db ? db.$client : db);

export function toAttachmentView(row: AttachmentRow): AttachmentView {
  return {
    id: row.id,
    filename: row.filename,
    content_type: row.content_type,
    size: row.size,
    sha256: row.sha256,
    ...(row.width !== null && row.height !== null ? { width: row.width, height: row.height } : {}),
    created_at: iso(row.created_at),
  };
}

export function insertAttachment(db: Db, row: AttachmentRow): void {
  db.$client
    .query(
      `INSERT INTO attachments (id, owner_id, sha256, size, content_type, filename, width, height, created_at, claimed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
    )
    .run(row.id, row.owner_id, row.sha256, row.size, row.content_type, row.filename, row.width, row.height, row.created_at);
}

/** Bytes of every attachment the user holds (each upload counts, even when its bytes are stored once). */
export function usedBytes(db: Db, userId: string): number {
  return db.$client.query<{ n: number }, [string]>("SELECT coalesce(sum(size), 0) AS n FROM attachments WHERE owner_id = ?").get(userId)!.n;
}

/** Uploads of this user no message has taken yet. */
export function pendingUploads(db: Db, userId: string): number {
  return db.$client
    .query<{ n: number }, [string]>("SELECT count(*) AS n FROM attachments WHERE owner_id = ? AND claimed_at IS NULL")
    .get(userId)!.n;
}

/**
 * The attachment if this user may read it: its uploader, or a member of the conversation of the
 * (not deleted) message holding it. Anything else is a 404, as if it did not exist.
 */
export function findVisibleAttachment(db: Db, id: string, userId: string): AttachmentRow {
  const row = db.$client
    .query<AttachmentRow, [string, string, string]>(
      `SELECT a.* FROM attachments a WHERE a.id = ?1 AND (a.owner_id = ?2 OR EXISTS (
         SELECT 1 FROM message_attachments ma
         JOIN messages m ON m.id = ma.message_id AND m.deleted_at IS NULL
         JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = ?3
         WHERE ma.attachment_id = a.id))`,
    )
    .get(id, userId, userId);
  if (!row) throw notFound("Attachment");
  return row;
}

/**
 * The `attachment_ids` of a send, checked: at most 10 distinct UUIDs, each uploaded by the sender and
 * not used by another message (a repeat of the same client_msg_id may name its own). commit.ts takes
 * them in the message's transaction, which settles any race between two sends naming the same one.
 */
export function checkAttachmentsForSend(
  db: Db,
  senderId: string,
  raw: unknown,
  repeatOf: { conversationId: string; clientMsgId: string | null },
): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw unprocessable("attachment_ids", "must be an array of attachment ids");
  if (raw.length > MAX_ATTACHMENTS_PER_MESSAGE) throw unprocessable("attachment_ids", `at most ${MAX_ATTACHMENTS_PER_MESSAGE} attachments per message`);
  const ids = raw.map((id) => {
    if (typeof id !== "string" || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
      throw unprocessable("attachment_ids", "must be attachment ids (UUIDs)");
    }
    return id.toLowerCase();
  });
  if (new Set(ids).size !== ids.length) throw unprocessable("attachment_ids", "must not repeat an attachment");
  const find = db.$client.query<{ owner_id: string; claimed_at: number | null; conversation_id: string | null; client_msg_id: string | null }, [string]>(
    `SELECT a.owner_id, a.claimed_at, m.conversation_id, m.client_msg_id FROM attachments a
     LEFT JOIN message_attachments ma ON ma.attachment_id = a.id LEFT JOIN messages m ON m.id = ma.message_id WHERE a.id = ?`,
  );
  for (const id of ids) {
    const row = find.get(id);
    if (!row || row.owner_id !== senderId) throw unprocessable("attachment_ids", `attachment ${id} not found`);
    if (row.claimed_at !== null) {
      const sameSend = repeatOf.clientMsgId !== null && row.conversation_id === repeatOf.conversationId && row.client_msg_id === repeatOf.clientMsgId;
      if (!sameSend) throw unprocessable("attachment_ids", `attachment ${id} is already used by another message`);
    }
  }
  return ids;
}

/** The files directory next to this database file. */
const filesDirFor = (client: Database) => filesDirOf(dirname(client.filename));

const stillUsed = (client: Database) => {
  const q = client.query<{ one: number }, [string]>("SELECT 1 AS one FROM attachments WHERE sha256 = ? LIMIT 1");
  return (sha256: string) => q.get(sha256) !== null;
};

/**
 * Deletes the attachments of a message (its rows, then every blob no other row names). For the delete
 * path (issue 13): call it on the event loop right after the delete committed (never inside a
 * transaction that could still roll back: the blobs are unlinked at once). Blobs go once their last
 * row has. Returns how many attachments were released.
 */
export function releaseAttachments(db: Db | Database, messageId: string, filesDir?: string): number {
  const client = clientOf(db);
  const rows = client
    .query<{ id: string; sha256: string }, [string]>(
      "SELECT a.id, a.sha256 FROM message_attachments ma JOIN attachments a ON a.id = ma.attachment_id WHERE ma.message_id = ?",
    )
    .all(messageId);
  if (rows.length === 0) return 0;
  const remove = client.query("DELETE FROM attachments WHERE id = ?");
  const drop = () => {
    // message_attachments rows go with them (ON DELETE CASCADE).
    for (const row of rows) remove.run(row.id);
  };
  client.transaction(drop)();
  removeUnusedBlobs(filesDir ?? filesDirFor(client), rows.map((r) => r.sha256), stillUsed(client));
  return rows.length;
}

/** Deletes the uploads no message took that are older than `olderThan` (Unix ms), and their unused blobs. */
export function sweepUnusedUploads(db: Db, olderThan: number, filesDir?: string): number {
  const client = db.$client;
  const rows = client
    .query<{ id: string; sha256: string }, [number]>("SELECT id, sha256 FROM attachments WHERE claimed_at IS NULL AND created_at < ? LIMIT 10000")
    .all(olderThan);
  if (rows.length === 0) return 0;
  const remove = client.query("DELETE FROM attachments WHERE id = ? AND claimed_at IS NULL");
  client.transaction(() => {
    for (const row of rows) remove.run(row.id);
  })();
  removeUnusedBlobs(filesDir ?? filesDirFor(client), rows.map((r) => r.sha256), stillUsed(client));
  return rows.length;
}

// Attachments in the database: rows of uploads, who may see them, quota, the checks of a send that
// carries attachment_ids, releasing a deleted message's files and sweeping uploads no message used.
import { dirname } from "node:path";
import type { Db } from "../../db/client";
import { notFound, unprocessable } from "../../errors";
import { iso } from "../../lib/time";
import type { AttachmentRow } from "../../ports/stores";
import { sqliteStoresOf } from "../storage-bridge";
import { MAX_ATTACHMENTS_PER_MESSAGE, type AttachmentView } from "./model";
import { filesDirOf, removeUnusedBlobs } from "./store";

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

// The SQL is in the AttachmentStore; these still take the db and call the SQLite store synchronously:
// an upload checks the quota again and inserts its row with nothing in between, and send.ts and
// edit.ts (the messages hot path) call in with the db.
export const insertAttachment = (db: Db, row: AttachmentRow): void => sqliteStoresOf(db).attachments.insert(row);

/** Bytes of every attachment the user holds (each upload counts, even when its bytes are stored once). */
export const usedBytes = (db: Db, userId: string): number => sqliteStoresOf(db).attachments.usedBytes(userId);

/** Uploads of this user no message has taken yet. */
export const pendingUploads = (db: Db, userId: string): number => sqliteStoresOf(db).attachments.pendingUploads(userId);

/**
 * The attachment if this user may read it: its uploader, or a member of the conversation of the
 * (not deleted) message holding it. Anything else is a 404, as if it did not exist.
 */
export function findVisibleAttachment(db: Db, id: string, userId: string): AttachmentRow {
  const row = sqliteStoresOf(db).attachments.visibleTo(id, userId);
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
  const uses = sqliteStoresOf(db).attachments.uses(ids);
  for (const id of ids) {
    const use = uses.get(id);
    if (!use || use.ownerId !== senderId) throw unprocessable("attachment_ids", `attachment ${id} not found`);
    if (use.claimedAt !== null) {
      const sameSend = repeatOf.clientMsgId !== null && use.conversationId === repeatOf.conversationId && use.clientMsgId === repeatOf.clientMsgId;
      if (!sameSend) throw unprocessable("attachment_ids", `attachment ${id} is already used by another message`);
    }
  }
  return ids;
}

/** The files directory next to this database file. */
const filesDirFor = (db: Db) => filesDirOf(dirname(db.$client.filename));

/** Unlinks the blobs among these no attachment names any more. */
const dropUnusedBlobs = (db: Db, hashes: string[], filesDir?: string) => {
  const { attachments } = sqliteStoresOf(db);
  removeUnusedBlobs(filesDir ?? filesDirFor(db), hashes, (sha256) => attachments.blobInUse(sha256));
};

/**
 * Deletes the attachments of a message (its rows, then every blob no other row names). For the delete
 * path (issue 13): call it on the event loop right after the delete committed (never inside a
 * transaction that could still roll back: the blobs are unlinked at once). Blobs go once their last
 * row has. Returns how many attachments were released.
 */
export function releaseAttachments(db: Db, messageId: string, filesDir?: string): number {
  const hashes = sqliteStoresOf(db).attachments.releaseForMessage(messageId);
  if (hashes.length > 0) dropUnusedBlobs(db, hashes, filesDir);
  return hashes.length;
}

/** Deletes the uploads no message took that are older than `olderThan` (Unix ms), and their unused blobs. */
export function sweepUnusedUploads(db: Db, olderThan: number, filesDir?: string): number {
  const hashes = sqliteStoresOf(db).attachments.sweepUnclaimed(olderThan, 10_000);
  if (hashes.length > 0) dropUnusedBlobs(db, hashes, filesDir);
  return hashes.length;
}

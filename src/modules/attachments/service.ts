// Attachments in the database: rows of uploads, who may see them, quota, the checks of a send that
// carries attachment_ids, releasing a deleted message's (or group's) files and sweeping uploads no
// message used.
import { notFound, unprocessable } from "../../errors";
import { iso } from "../../lib/time";
import { andThen, andThenAll, type AttachmentRow, type Awaitable, type Storage } from "../../ports/stores";
import { MAX_ATTACHMENTS_PER_MESSAGE, type AttachmentView } from "./model";
import { removeUnusedBlobs } from "./store";

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

// The SQL is in the AttachmentStore. Callers chain with andThen where nothing may run in between on
// a synchronous store (an upload checks the quota again and inserts its row; the send hot path).
export const insertAttachment = ({ stores }: Storage, row: AttachmentRow): Awaitable<void> => stores.attachments.insert(row);

/** Bytes of every attachment the user holds (each upload counts, even when its bytes are stored once). */
export const usedBytes = ({ stores }: Storage, userId: string): Awaitable<number> => stores.attachments.usedBytes(userId);

/** Uploads of this user no message has taken yet. */
export const pendingUploads = ({ stores }: Storage, userId: string): Awaitable<number> => stores.attachments.pendingUploads(userId);

/**
 * The attachment if this user may read it: its uploader, or a member of the conversation of the
 * (not deleted) message holding it. Anything else is a 404, as if it did not exist.
 */
export async function findVisibleAttachment({ stores }: Storage, id: string, userId: string): Promise<AttachmentRow> {
  const row = await stores.attachments.visibleTo(id, userId);
  if (!row) throw notFound("Attachment");
  return row;
}

/**
 * The `attachment_ids` of a send, checked: at most 10 distinct UUIDs, each uploaded by the sender and
 * not used by another message (a repeat of the same client_msg_id may name its own). commit.ts takes
 * them in the message's transaction, which settles any race between two sends naming the same one.
 */
export function checkAttachmentsForSend(
  { stores }: Storage,
  senderId: string,
  raw: unknown,
  repeatOf: { conversationId: string; clientMsgId: string | null },
): Awaitable<string[]> {
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
  return andThen(stores.attachments.uses(ids), (uses) => {
    for (const id of ids) {
      const use = uses.get(id);
      if (!use || use.ownerId !== senderId) throw unprocessable("attachment_ids", `attachment ${id} not found`);
      if (use.claimedAt !== null) {
        const sameSend = repeatOf.clientMsgId !== null && use.conversationId === repeatOf.conversationId && use.clientMsgId === repeatOf.clientMsgId;
        if (!sameSend) throw unprocessable("attachment_ids", `attachment ${id} is already used by another message`);
      }
    }
    return ids;
  });
}

/**
 * Unlinks the blobs among these no attachment names any more (checked, then unlinked, with nothing in
 * between on SQLite). For hashes whose rows were deleted: call it after that delete committed.
 */
export function dropUnusedBlobs({ stores }: Storage, hashes: string[], filesDir: string): Awaitable<void> {
  const unique = [...new Set(hashes)];
  return andThen(andThenAll(unique.map((sha256) => stores.attachments.blobInUse(sha256))), (inUse) => {
    const used = new Set(unique.filter((_, i) => inUse[i]));
    removeUnusedBlobs(filesDir, unique, (sha256) => used.has(sha256));
  });
}

/**
 * Deletes the attachments of a message (its rows, then every blob no other row names). For the delete
 * path (issue 13): call it on the event loop right after the delete committed (never inside a
 * transaction that could still roll back: the blobs are unlinked at once). Blobs go once their last
 * row has. Returns how many attachments were released.
 */
export async function releaseAttachments(s: Storage, messageId: string, filesDir: string): Promise<number> {
  const hashes = await s.stores.attachments.releaseForMessage(messageId);
  if (hashes.length > 0) await dropUnusedBlobs(s, hashes, filesDir);
  return hashes.length;
}

/** Deletes the uploads no message took that are older than `olderThan` (Unix ms), and their unused blobs. */
export async function sweepUnusedUploads(s: Storage, olderThan: number, filesDir: string): Promise<number> {
  const hashes = await s.stores.attachments.sweepUnclaimed(olderThan, 10_000);
  if (hashes.length > 0) await dropUnusedBlobs(s, hashes, filesDir);
  return hashes.length;
}

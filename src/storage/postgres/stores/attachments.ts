// AttachmentStore over PostgreSQL: the upload rows (the blobs are files, kept by the attachments module).
import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import type { AttachmentRow, AttachmentStore, AttachmentUse } from "../../../ports/stores";
import { attachments, messageAttachments, messages } from "../schema";
import { rowsOf, stripNul, type PgHandle } from "./common";

/** The port's snake_case row from the table's columns. */
const ROW = {
  id: attachments.id,
  owner_id: attachments.ownerId,
  sha256: attachments.sha256,
  size: attachments.size,
  content_type: attachments.contentType,
  filename: attachments.filename,
  width: attachments.width,
  height: attachments.height,
  created_at: attachments.createdAt,
  claimed_at: attachments.claimedAt,
};

export class PgAttachmentStore implements AttachmentStore {
  constructor(private readonly db: PgHandle) {}

  async insert(row: AttachmentRow): Promise<void> {
    const r = stripNul(row);
    await this.db.insert(attachments).values({
      id: r.id,
      ownerId: r.owner_id,
      sha256: r.sha256,
      size: r.size,
      contentType: r.content_type,
      filename: r.filename,
      width: r.width,
      height: r.height,
      createdAt: r.created_at,
      claimedAt: r.claimed_at,
    });
  }

  async usedBytes(userId: string): Promise<number> {
    const [row] = await this.db
      .select({ n: sql<number>`coalesce(sum(${attachments.size}), 0)`.mapWith(Number) })
      .from(attachments)
      .where(eq(attachments.ownerId, userId));
    return row!.n;
  }

  async pendingUploads(userId: string): Promise<number> {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)`.mapWith(Number) })
      .from(attachments)
      .where(and(eq(attachments.ownerId, userId), isNull(attachments.claimedAt)));
    return row!.n;
  }

  async visibleTo(id: string, userId: string): Promise<AttachmentRow | null> {
    const [row] = await this.db
      .select(ROW)
      .from(attachments)
      .where(
        and(
          eq(attachments.id, stripNul(id)),
          sql`(${attachments.ownerId} = ${userId} OR EXISTS (
            SELECT 1 FROM message_attachments ma
            JOIN messages m ON m.id = ma.message_id AND m.deleted_at IS NULL
            JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = ${userId}
            WHERE ma.attachment_id = ${attachments.id}))`,
        ),
      );
    return row ?? null;
  }

  async uses(ids: string[]): Promise<Map<string, AttachmentUse>> {
    const found = new Map<string, AttachmentUse>();
    if (ids.length === 0) return found;
    const rows = await this.db
      .select({
        id: attachments.id,
        ownerId: attachments.ownerId,
        claimedAt: attachments.claimedAt,
        conversationId: messages.conversationId,
        clientMsgId: messages.clientMsgId,
      })
      .from(attachments)
      .leftJoin(messageAttachments, eq(messageAttachments.attachmentId, attachments.id))
      .leftJoin(messages, eq(messages.id, messageAttachments.messageId))
      .where(inArray(attachments.id, stripNul(ids)));
    const byId = new Map(rows.map(({ id, ...use }) => [id, use]));
    // In the order asked, as the SQLite adapter answers.
    for (const id of ids) {
      const use = byId.get(stripNul(id));
      if (use) found.set(id, use);
    }
    return found;
  }

  async releaseForMessage(messageId: string): Promise<string[]> {
    // message_attachments rows go with them (ON DELETE CASCADE); one statement is one transaction.
    const rows = await rowsOf<{ sha256: string }>(
      this.db,
      sql`DELETE FROM attachments a USING message_attachments ma
          WHERE ma.attachment_id = a.id AND ma.message_id = ${stripNul(messageId)} RETURNING a.sha256`,
    );
    return rows.map((r) => r.sha256);
  }

  async releaseForConversation(conversationId: string): Promise<string[]> {
    const rows = await rowsOf<{ sha256: string }>(
      this.db,
      sql`DELETE FROM attachments a USING message_attachments ma, messages m
          WHERE ma.attachment_id = a.id AND m.id = ma.message_id AND m.conversation_id = ${stripNul(conversationId)} RETURNING a.sha256`,
    );
    return rows.map((r) => r.sha256);
  }

  async sweepUnclaimed(olderThan: number, max: number): Promise<string[]> {
    // SKIP LOCKED: two instances sweeping at once take different rows instead of waiting.
    const rows = await rowsOf<{ sha256: string }>(
      this.db,
      sql`DELETE FROM attachments WHERE id IN (
            SELECT id FROM attachments WHERE claimed_at IS NULL AND created_at < ${olderThan} LIMIT ${max} FOR UPDATE SKIP LOCKED)
          AND claimed_at IS NULL RETURNING sha256`,
    );
    return rows.map((r) => r.sha256);
  }

  async blobInUse(sha256: string): Promise<boolean> {
    return (await this.db.select({ id: attachments.id }).from(attachments).where(eq(attachments.sha256, stripNul(sha256))).limit(1)).length > 0;
  }
}


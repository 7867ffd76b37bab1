// AttachmentStore over SQLite: the upload rows (the blobs are files, kept by modules/attachments/store.ts).
import type { Statement } from "bun:sqlite";
import type { AttachmentRow, AttachmentStore, AttachmentUse } from "../../ports/stores";
import type { Db } from "../client";

export class SqliteAttachmentStore implements AttachmentStore {
  private readonly usedBytesQuery: Statement<{ n: number }, [string]>;
  private readonly pendingQuery: Statement<{ n: number }, [string]>;
  private readonly blobQuery: Statement<{ one: number }, [string]>;

  constructor(private readonly db: Db) {
    const client = db.$client;
    this.usedBytesQuery = client.query("SELECT coalesce(sum(size), 0) AS n FROM attachments WHERE owner_id = ?");
    this.pendingQuery = client.query("SELECT count(*) AS n FROM attachments WHERE owner_id = ? AND claimed_at IS NULL");
    this.blobQuery = client.query("SELECT 1 AS one FROM attachments WHERE sha256 = ? LIMIT 1");
  }

  insert(row: AttachmentRow): void {
    this.db.$client
      .query(
        `INSERT INTO attachments (id, owner_id, sha256, size, content_type, filename, width, height, created_at, claimed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(row.id, row.owner_id, row.sha256, row.size, row.content_type, row.filename, row.width, row.height, row.created_at, row.claimed_at);
  }

  usedBytes(userId: string): number {
    return this.usedBytesQuery.get(userId)!.n;
  }

  pendingUploads(userId: string): number {
    return this.pendingQuery.get(userId)!.n;
  }

  visibleTo(id: string, userId: string): AttachmentRow | null {
    return this.db.$client
      .query<AttachmentRow, [string, string, string]>(
        `SELECT a.* FROM attachments a WHERE a.id = ?1 AND (a.owner_id = ?2 OR EXISTS (
           SELECT 1 FROM message_attachments ma
           JOIN messages m ON m.id = ma.message_id AND m.deleted_at IS NULL
           JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = ?3
           WHERE ma.attachment_id = a.id))`,
      )
      .get(id, userId, userId);
  }

  uses(ids: string[]): Map<string, AttachmentUse> {
    const find = this.db.$client.query<AttachmentUse, [string]>(
      `SELECT a.owner_id AS ownerId, a.claimed_at AS claimedAt, m.conversation_id AS conversationId, m.client_msg_id AS clientMsgId
       FROM attachments a LEFT JOIN message_attachments ma ON ma.attachment_id = a.id LEFT JOIN messages m ON m.id = ma.message_id
       WHERE a.id = ?`,
    );
    const found = new Map<string, AttachmentUse>();
    for (const id of ids) {
      const use = find.get(id);
      if (use) found.set(id, use);
    }
    return found;
  }

  releaseForMessage(messageId: string): string[] {
    const client = this.db.$client;
    const rows = client
      .query<{ id: string; sha256: string }, [string]>(
        "SELECT a.id, a.sha256 FROM message_attachments ma JOIN attachments a ON a.id = ma.attachment_id WHERE ma.message_id = ?",
      )
      .all(messageId);
    if (rows.length === 0) return [];
    const remove = client.query("DELETE FROM attachments WHERE id = ?");
    // message_attachments rows go with them (ON DELETE CASCADE).
    client.transaction(() => {
      for (const row of rows) remove.run(row.id);
    })();
    return rows.map((r) => r.sha256);
  }

  releaseForConversation(conversationId: string): string[] {
    // One statement, so atomic on its own; inside a revision it is part of that transaction.
    return this.db.$client
      .query<{ sha256: string }, [string]>(
        `DELETE FROM attachments WHERE id IN (
           SELECT ma.attachment_id FROM messages m JOIN message_attachments ma ON ma.message_id = m.id WHERE m.conversation_id = ?)
         RETURNING sha256`,
      )
      .all(conversationId)
      .map((r) => r.sha256);
  }

  sweepUnclaimed(olderThan: number, max: number): string[] {
    const client = this.db.$client;
    const rows = client
      .query<{ id: string; sha256: string }, [number, number]>("SELECT id, sha256 FROM attachments WHERE claimed_at IS NULL AND created_at < ? LIMIT ?")
      .all(olderThan, max);
    if (rows.length === 0) return [];
    const remove = client.query("DELETE FROM attachments WHERE id = ? AND claimed_at IS NULL");
    client.transaction(() => {
      for (const row of rows) remove.run(row.id);
    })();
    return rows.map((r) => r.sha256);
  }

  blobInUse(sha256: string): boolean {
    return this.blobQuery.get(sha256) !== null;
  }
}

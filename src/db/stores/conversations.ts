// ConversationStore over SQLite: conversations and their members (roles, settings). Changes that
// take a revision (renames, members, roles) still run in modules/changes/revision.ts's transaction.
import type { Statement } from "bun:sqlite";
import { and, eq, getTableColumns } from "drizzle-orm";
import {
  NO_CHANGE,
  type Awaitable,
  type ConversationRow,
  type ConversationStore,
  type MemberRole,
  type MemberSettings,
  type ParticipantRow,
  type Revision,
  type Stores,
  type UserRow,
} from "../../ports/stores";
import type { Db } from "../client";
import { conversations, members, users } from "../schema";

/** The users columns of the row source `r`, aliased to UserRow's keys. */
const USER_COLUMNS = Object.entries(getTableColumns(users))
  .map(([key, column]) => `r."${column.name}" AS "${key}"`)
  .join(", ");

const marks = (ids: unknown[]) => ids.map(() => "?").join(",");

/** Thrown inside a revision's transaction to roll back a change that changed nothing. */
class Unchanged extends Error {}

type ParticipantSqlRow = UserRow & {
  conversation_id__: string;
  role__: MemberRole;
  joined_at__: number;
  muted__: number;
  muted_until__: number | null;
  pinned__: number;
};

export class SqliteConversationStore implements ConversationStore {
  private readonly existsQuery: Statement<{ id: string }, [string]>;
  private readonly memberIdsQuery: Statement<{ user_id: string }, [string]>;
  private readonly conversationIdsQuery: Statement<{ conversation_id: string }, [string]>;
  private readonly contactIdsQuery: Statement<{ user_id: string }, [string, string]>;
  private readonly takeRev: Statement<{ rev: number }, [number, number, string]>;

  /** @param txStores the stores a revision's change runs with: this connection's, so inside its transaction */
  constructor(
    private readonly db: Db,
    private readonly txStores: () => Stores,
  ) {
    const client = db.$client;
    this.existsQuery = client.query("SELECT id FROM conversations WHERE id = ?");
    this.memberIdsQuery = client.query("SELECT user_id FROM members WHERE conversation_id = ?");
    this.conversationIdsQuery = client.query("SELECT conversation_id FROM members WHERE user_id = ?");
    this.takeRev = client.query(
      `UPDATE conversations SET rev = rev + 1, meta_rev = CASE WHEN ? THEN rev + 1 ELSE meta_rev END, updated_at = ?
       WHERE id = ? RETURNING rev`,
    );
    this.contactIdsQuery = client.query(
      `SELECT DISTINCT o.user_id FROM members me JOIN members o ON o.conversation_id = me.conversation_id
       WHERE me.user_id = ? AND o.user_id != ?`,
    );
  }

  revise<T>(
    conversationId: string,
    options: { meta?: boolean; at: number },
    change: (tx: Stores, rev: number) => Awaitable<T | typeof NO_CHANGE>,
  ): Revision<T> | null | "missing" {
    const client = this.db.$client;
    try {
      return client
        .transaction((): Revision<T> | "missing" => {
          // In an UPDATE every expression sees the old row, so `rev + 1` is the new rev in both places.
          const row = this.takeRev.get(options.meta ? 1 : 0, options.at, conversationId);
          if (!row) return "missing";
          const result = change(this.txStores(), row.rev);
          if (result instanceof Promise) throw new Error("a SQLite revision's change must be synchronous");
          if (result === NO_CHANGE) throw new Unchanged();
          return { rev: row.rev, at: options.at, result };
        })
        .immediate();
    } catch (error) {
      if (error instanceof Unchanged) return null;
      throw error;
    }
  }

  exists(id: string): boolean {
    return this.existsQuery.get(id) !== null;
  }

  byId(id: string): ConversationRow | null {
    return this.db.select().from(conversations).where(eq(conversations.id, id)).get() ?? null;
  }

  byDirectKey(directKey: string): ConversationRow | null {
    return this.db.select().from(conversations).where(eq(conversations.directKey, directKey)).get() ?? null;
  }

  forMember(conversationId: string, userId: string): ConversationRow | null {
    const row = this.db
      .select({ c: conversations })
      .from(conversations)
      .innerJoin(members, and(eq(members.conversationId, conversations.id), eq(members.userId, userId)))
      .where(eq(conversations.id, conversationId))
      .get();
    return row?.c ?? null;
  }

  listForMember(userId: string, limit: number, offset: number): ConversationRow[] {
    return this.db.$client
      .query<Record<string, unknown>, [string, number, number]>(
        `SELECT c.* FROM members mb JOIN conversations c ON c.id = mb.conversation_id
         WHERE mb.user_id = ? ORDER BY mb.pinned DESC, c.last_activity_at DESC, c.id DESC LIMIT ? OFFSET ?`,
      )
      .all(userId, limit, offset)
      .map((r) => ({
        id: r.id as string,
        name: r.name as string | null,
        isGroup: Boolean(r.is_group),
        createdBy: r.created_by as string,
        directKey: r.direct_key as string | null,
        rev: r.rev as number,
        metaRev: r.meta_rev as number,
        lastSeq: r.last_seq as number,
        lastActivityAt: r.last_activity_at as number,
        createdAt: r.created_at as number,
        updatedAt: r.updated_at as number,
      }));
  }

  create(row: Omit<ConversationRow, "lastSeq" | "rev" | "metaRev">, memberRoles: { userId: string; role: MemberRole }[]): ConversationRow {
    return this.db.transaction((tx) => {
      const created = tx.insert(conversations).values(row).returning().get();
      tx.insert(members)
        .values(memberRoles.map(({ userId, role }) => ({ conversationId: row.id, userId, role, joinedAt: row.createdAt })))
        .run();
      return created;
    });
  }

  members(conversationId: string): { userId: string; role: MemberRole }[] {
    return this.db.$client
      .query<{ userId: string; role: MemberRole }, [string]>(
        "SELECT user_id AS userId, role FROM members WHERE conversation_id = ? ORDER BY joined_at, rowid",
      )
      .all(conversationId);
  }

  roleOf(conversationId: string, userId: string): MemberRole | null {
    return (
      this.db.$client
        .query<{ role: MemberRole }, [string, string]>("SELECT role FROM members WHERE conversation_id = ? AND user_id = ?")
        .get(conversationId, userId)?.role ?? null
    );
  }

  addMembers(conversationId: string, userIds: string[], at: number): void {
    const insert = this.db.$client.query(
      `INSERT INTO members (conversation_id, user_id, role, joined_at, last_read_seq, last_delivered_seq)
       SELECT ?1, ?2, 'member', ?3, last_seq, last_seq FROM conversations WHERE id = ?1`,
    );
    for (const id of userIds) insert.run(conversationId, id, at);
  }

  removeMember(conversationId: string, userId: string): number {
    const client = this.db.$client;
    client.query("DELETE FROM members WHERE conversation_id = ? AND user_id = ?").run(conversationId, userId);
    return client.query<{ n: number }, [string]>("SELECT count(*) AS n FROM members WHERE conversation_id = ?").get(conversationId)!.n;
  }

  delete(conversationId: string): void {
    this.db.$client.query("DELETE FROM conversations WHERE id = ?").run(conversationId);
  }

  setRole(conversationId: string, userId: string, role: MemberRole): void {
    this.db.$client.query("UPDATE members SET role = ? WHERE conversation_id = ? AND user_id = ?").run(role, conversationId, userId);
  }

  updateSettings(conversationId: string, userId: string, patch: MemberSettings): void {
    const set: Partial<typeof members.$inferInsert> = {};
    if (patch.muted !== undefined) set.muted = patch.muted;
    if (patch.mutedUntil !== undefined) set.mutedUntil = patch.mutedUntil;
    if (patch.pinned !== undefined) set.pinned = patch.pinned;
    if (Object.keys(set).length === 0) return;
    this.db
      .update(members)
      .set(set)
      .where(and(eq(members.conversationId, conversationId), eq(members.userId, userId)))
      .run();
  }

  rename(conversationId: string, name: string): ConversationRow | null {
    return this.db.update(conversations).set({ name }).where(eq(conversations.id, conversationId)).returning().get() ?? null;
  }

  memberCounts(conversationIds: string[]): Map<string, number> {
    if (conversationIds.length === 0) return new Map();
    const rows = this.db.$client
      .query<{ conversation_id: string; n: number }, string[]>(
        `SELECT conversation_id, count(*) AS n FROM members WHERE conversation_id IN (${marks(conversationIds)}) GROUP BY conversation_id`,
      )
      .all(...conversationIds);
    return new Map(rows.map((r) => [r.conversation_id, r.n]));
  }

  memberIds(conversationId: string): string[] {
    return this.memberIdsQuery.all(conversationId).map((r) => r.user_id);
  }

  conversationIdsOf(userId: string): string[] {
    return this.conversationIdsQuery.all(userId).map((r) => r.conversation_id);
  }

  contactIdsOf(userId: string): string[] {
    return this.contactIdsQuery.all(userId, userId).map((r) => r.user_id);
  }

  // A thousand-member group then costs ten users in the list, not a thousand; the same rows carry
  // roles and the caller's settings, so members and my_role cost no extra query.
  participants(me: string, conversationIds: string[], cap: number): ParticipantRow[] {
    return this.db.$client
      .query<ParticipantSqlRow, (string | number)[]>(
        `SELECT conversation_id__, role__, joined_at__, muted__, muted_until__, pinned__, ${USER_COLUMNS} FROM (
           SELECT mb.conversation_id AS conversation_id__, mb.role AS role__, mb.joined_at AS joined_at__,
                  mb.muted AS muted__, mb.muted_until AS muted_until__, mb.pinned AS pinned__, u.*,
                  row_number() OVER (PARTITION BY mb.conversation_id ORDER BY mb.joined_at, u.username_key) AS rank__
           FROM members mb JOIN users u ON u.id = mb.user_id
           WHERE mb.conversation_id IN (${marks(conversationIds)})
         ) r WHERE r.rank__ <= ? OR r.id = ? ORDER BY conversation_id__, r.rank__`,
      )
      .all(...conversationIds, cap, me)
      .map(({ conversation_id__, role__, joined_at__, muted__, muted_until__, pinned__, ...user }) => ({
        conversationId: conversation_id__,
        user: Object.assign(user, { isBot: !!user.isBot }),
        role: role__,
        joinedAt: joined_at__,
        muted: Boolean(muted__),
        mutedUntil: muted_until__,
        pinned: Boolean(pinned__),
      }));
  }
}

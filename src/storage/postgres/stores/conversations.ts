// ConversationStore over PostgreSQL. A revision takes the conversation's row lock with its UPDATE
// (as the group commit does), so messages and other changes of one conversation take their revs one
// at a time across connections and instances; its change runs with stores bound to the transaction.
import { and, asc, count, desc, eq, getTableColumns, inArray, sql } from "drizzle-orm";
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
} from "../../../ports/stores";
import { conversations, members, users } from "../schema";
import { byteOrder, num, rowsOf, stripNul, type PgHandle } from "./common";

/** The users columns of the row source `r`, aliased to UserRow's keys. */
const USER_COLUMNS = Object.entries(getTableColumns(users))
  .map(([key, column]) => `r."${column.name}" AS "${key}"`)
  .join(", ");

/** A user from raw SQL: int8 times arrive as strings. */
const toUserRow = (r: Record<string, unknown>): UserRow => ({
  ...(r as unknown as UserRow),
  tokenVersion: Number(r.tokenVersion),
  lastSeenAt: num(r.lastSeenAt),
  disabledAt: num(r.disabledAt),
  createdAt: Number(r.createdAt),
  updatedAt: Number(r.updatedAt),
});

type ParticipantSqlRow = Record<string, unknown> & {
  conversation_id__: string;
  role__: MemberRole;
  joined_at__: string | number;
  muted__: boolean;
  muted_until__: string | number | null;
  pinned__: boolean;
};

/** Thrown inside a revision's transaction to roll back a change that changed nothing. */
class Unchanged extends Error {}

export class PgConversationStore implements ConversationStore {
  /** @param txStores the stores of a transaction handle: what a revision's change runs with */
  constructor(
    private readonly db: PgHandle,
    private readonly txStores: (tx: PgHandle) => Stores,
  ) {}

  async revise<T>(
    conversationId: string,
    options: { meta?: boolean; at: number },
    change: (tx: Stores, rev: number) => Awaitable<T | typeof NO_CHANGE>,
  ): Promise<Revision<T> | null | "missing"> {
    try {
      return await this.db.transaction(async (tx): Promise<Revision<T> | "missing"> => {
        // In an UPDATE every expression sees the old row, so `rev + 1` is the new rev in both places.
        const [row] = await tx
          .update(conversations)
          .set({
            rev: sql`${conversations.rev} + 1`,
            metaRev: options.meta ? sql`${conversations.rev} + 1` : sql`${conversations.metaRev}`,
            updatedAt: options.at,
          })
          .where(eq(conversations.id, stripNul(conversationId)))
          .returning({ rev: conversations.rev });
        if (!row) return "missing";
        const result = await change(this.txStores(tx as unknown as PgHandle), row.rev);
        if (result === NO_CHANGE) throw new Unchanged();
        return { rev: row.rev, at: options.at, result: result as T };
      });
    } catch (error) {
      if (error instanceof Unchanged) return null;
      throw error;
    }
  }

  async exists(id: string): Promise<boolean> {
    return (await this.db.select({ id: conversations.id }).from(conversations).where(eq(conversations.id, stripNul(id)))).length > 0;
  }

  async byId(id: string): Promise<ConversationRow | null> {
    const [row] = await this.db.select().from(conversations).where(eq(conversations.id, stripNul(id)));
    return row ?? null;
  }

  async byDirectKey(directKey: string): Promise<ConversationRow | null> {
    const [row] = await this.db.select().from(conversations).where(eq(conversations.directKey, stripNul(directKey)));
    return row ?? null;
  }

  async forMember(conversationId: string, userId: string): Promise<ConversationRow | null> {
    const [row] = await this.db
      .select({ c: conversations })
      .from(conversations)
      .innerJoin(members, and(eq(members.conversationId, conversations.id), eq(members.userId, stripNul(userId))))
      .where(eq(conversations.id, stripNul(conversationId)));
    return row?.c ?? null;
  }

  async listForMember(userId: string, limit: number, offset: number): Promise<ConversationRow[]> {
    const rows = await this.db
      .select({ c: conversations })
      .from(members)
      .innerJoin(conversations, eq(conversations.id, members.conversationId))
      .where(eq(members.userId, stripNul(userId)))
      .orderBy(desc(members.pinned), desc(conversations.lastActivityAt), desc(byteOrder(conversations.id)))
      .limit(limit)
      .offset(offset);
    return rows.map((r) => r.c);
  }

  async create(row: Omit<ConversationRow, "lastSeq" | "rev" | "metaRev">, memberRoles: { userId: string; role: MemberRole }[]): Promise<ConversationRow> {
    const clean = stripNul(row);
    return this.db.transaction(async (tx) => {
      const [created] = await tx.insert(conversations).values(clean).returning();
      if (memberRoles.length) {
        await tx
          .insert(members)
          .values(memberRoles.map(({ userId, role }) => ({ conversationId: clean.id, userId, role, joinedAt: clean.createdAt })));
      }
      return created!;
    });
  }

  /**
   * Joining order; members who joined in one batch (same joined_at) by user id. SQLite breaks that
   * tie by insertion order (rowid), which PostgreSQL rows do not keep.
   */
  async members(conversationId: string): Promise<{ userId: string; role: MemberRole }[]> {
    const rows = await this.db
      .select({ userId: members.userId, role: members.role })
      .from(members)
      .where(eq(members.conversationId, stripNul(conversationId)))
      .orderBy(asc(members.joinedAt), byteOrder(members.userId));
    return rows as { userId: string; role: MemberRole }[];
  }

  async roleOf(conversationId: string, userId: string): Promise<MemberRole | null> {
    const [row] = await this.db
      .select({ role: members.role })
      .from(members)
      .where(and(eq(members.conversationId, stripNul(conversationId)), eq(members.userId, stripNul(userId))));
    return (row?.role as MemberRole | undefined) ?? null;
  }

  async addMembers(conversationId: string, userIds: string[], at: number): Promise<void> {
    if (userIds.length === 0) return;
    // One statement: the cursors start at the conversation's last seq as this transaction sees it;
    // rows go in the order given (the VALUES list numbers them).
    const wanted = stripNul(userIds).map((id, n) => sql`(${id}, ${n})`);
    await this.db.execute(sql`
      INSERT INTO members (conversation_id, user_id, role, joined_at, last_read_seq, last_delivered_seq)
      SELECT c.id, u.id, 'member', ${at}, c.last_seq, c.last_seq
      FROM conversations c CROSS JOIN (VALUES ${sql.join(wanted, sql`, `)}) AS u(id, n)
      WHERE c.id = ${stripNul(conversationId)} ORDER BY u.n`);
  }

  async removeMember(conversationId: string, userId: string): Promise<number> {
    await this.db.delete(members).where(and(eq(members.conversationId, conversationId), eq(members.userId, userId)));
    const [row] = await this.db.select({ n: count() }).from(members).where(eq(members.conversationId, conversationId));
    return row!.n;
  }

  async delete(conversationId: string): Promise<void> {
    await this.db.delete(conversations).where(eq(conversations.id, conversationId));
  }

  async setRole(conversationId: string, userId: string, role: MemberRole): Promise<void> {
    await this.db.update(members).set({ role }).where(and(eq(members.conversationId, conversationId), eq(members.userId, userId)));
  }

  async updateSettings(conversationId: string, userId: string, patch: MemberSettings): Promise<void> {
    const set: Partial<typeof members.$inferInsert> = {};
    if (patch.muted !== undefined) set.muted = patch.muted;
    if (patch.mutedUntil !== undefined) set.mutedUntil = patch.mutedUntil;
    if (patch.pinned !== undefined) set.pinned = patch.pinned;
    if (Object.keys(set).length === 0) return;
    await this.db.update(members).set(set).where(and(eq(members.conversationId, conversationId), eq(members.userId, userId)));
  }

  async rename(conversationId: string, name: string): Promise<ConversationRow | null> {
    const [row] = await this.db
      .update(conversations)
      .set({ name: stripNul(name) })
      .where(eq(conversations.id, stripNul(conversationId)))
      .returning();
    return row ?? null;
  }

  async memberCounts(conversationIds: string[]): Promise<Map<string, number>> {
    if (conversationIds.length === 0) return new Map();
    const rows = await this.db
      .select({ id: members.conversationId, n: count() })
      .from(members)
      .where(inArray(members.conversationId, stripNul(conversationIds)))
      .groupBy(members.conversationId);
    return new Map(rows.map((r) => [r.id, r.n]));
  }

  async memberIds(conversationId: string): Promise<string[]> {
    return (await this.db.select({ id: members.userId }).from(members).where(eq(members.conversationId, stripNul(conversationId)))).map((r) => r.id);
  }

  async conversationIdsOf(userId: string): Promise<string[]> {
    return (await this.db.select({ id: members.conversationId }).from(members).where(eq(members.userId, stripNul(userId)))).map((r) => r.id);
  }

  async contactIdsOf(userId: string): Promise<string[]> {
    const id = stripNul(userId);
    const rows = await rowsOf<{ user_id: string }>(
      this.db,
      sql`SELECT DISTINCT o.user_id FROM members me JOIN members o ON o.conversation_id = me.conversation_id
          WHERE me.user_id = ${id} AND o.user_id <> ${id}`,
    );
    return rows.map((r) => r.user_id);
  }

  // A thousand-member group then costs ten users in the list, not a thousand; the same rows carry
  // roles and the caller's settings, so members and my_role cost no extra query.
  async participants(me: string, conversationIds: string[], cap: number): Promise<ParticipantRow[]> {
    if (conversationIds.length === 0) return [];
    const rows = await rowsOf<ParticipantSqlRow>(
      this.db,
      sql`SELECT r.conversation_id__, r.role__, r.joined_at__, r.muted__, r.muted_until__, r.pinned__, ${sql.raw(USER_COLUMNS)} FROM (
            SELECT mb.conversation_id AS conversation_id__, mb.role AS role__, mb.joined_at AS joined_at__,
                   mb.muted AS muted__, mb.muted_until AS muted_until__, mb.pinned AS pinned__, u.*,
                   row_number() OVER (PARTITION BY mb.conversation_id ORDER BY mb.joined_at, u.username_key COLLATE "C") AS rank__
            FROM members mb JOIN users u ON u.id = mb.user_id
            WHERE mb.conversation_id IN (${sql.join(stripNul(conversationIds).map((id) => sql`${id}`), sql`, `)})
          ) r WHERE r.rank__ <= ${cap} OR r.id = ${stripNul(me)} ORDER BY r.conversation_id__ COLLATE "C", r.rank__`,
    );
    return rows.map(({ conversation_id__, role__, joined_at__, muted__, muted_until__, pinned__, ...user }) => ({
      conversationId: conversation_id__,
      user: toUserRow(user),
      role: role__,
      joinedAt: Number(joined_at__),
      muted: muted__,
      mutedUntil: num(muted_until__),
      pinned: pinned__,
    }));
  }
}

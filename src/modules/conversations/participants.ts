// Members of conversations with their users, roles and settings: the rows every Conversation view
// is built from (the list's capped participants, a single view, each member's frame).
import { getTableColumns } from "drizzle-orm";
import type { Db } from "../../db/client";
import { users, type UserRow } from "../../db/schema";
import { now } from "../../lib/time";
import type { Role } from "./model";

/** The users columns of the row source `r`, aliased to UserRow's keys. */
const USER_COLUMNS = Object.entries(getTableColumns(users))
  .map(([key, column]) => `r."${column.name}" AS "${key}"`)
  .join(", ");

export interface ParticipantRow {
  conversationId: string;
  user: UserRow;
  role: Role;
  joinedAt: number;
  /** The member's own settings (only shown to that member). */
  muted: boolean;
  mutedUntil: number | null;
  pinned: boolean;
}

/**
 * Members of each conversation in joining order (then by username), with at most `cap` per
 * conversation plus `me`: a thousand-member group then costs ten users in the list, not a thousand.
 * The same rows carry roles and the caller's settings, so members and my_role cost no extra query.
 */
export function participantRows(db: Db, me: string, ids: string[], cap: number): ParticipantRow[] {
  const marks = ids.map(() => "?").join(",");
  return db.$client
    .query<UserRow & { conversation_id__: string; role__: Role; joined_at__: number; muted__: number; muted_until__: number | null; pinned__: number }, (string | number)[]>(
      `SELECT conversation_id__, role__, joined_at__, muted__, muted_until__, pinned__, ${USER_COLUMNS} FROM (
         SELECT mb.conversation_id AS conversation_id__, mb.role AS role__, mb.joined_at AS joined_at__,
                mb.muted AS muted__, mb.muted_until AS muted_until__, mb.pinned AS pinned__, u.*,
                row_number() OVER (PARTITION BY mb.conversation_id ORDER BY mb.joined_at, u.username_key) AS rank__
         FROM members mb JOIN users u ON u.id = mb.user_id
         WHERE mb.conversation_id IN (${marks})
       ) r WHERE r.rank__ <= ? OR r.id = ? ORDER BY conversation_id__, r.rank__`,
    )
    .all(...ids, cap, me)
    .map(({ conversation_id__, role__, joined_at__, muted__, muted_until__, pinned__, ...user }) => ({
      conversationId: conversation_id__,
      user: user as UserRow,
      role: role__,
      joinedAt: joined_at__,
      muted: Boolean(muted__),
      mutedUntil: muted_until__,
      pinned: Boolean(pinned__),
    }));
}

/** Muted right now: muted, and with no end or an end still ahead. */
export const isMutedNow = (muted: boolean, mutedUntil: number | null, at = now()) => muted && (mutedUntil === null || mutedUntil > at);

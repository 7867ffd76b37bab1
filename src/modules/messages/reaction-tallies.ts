// Reactions as the Message view shows them: per message, each emoji with who reacted, in the order
// of first reaction. One query for a whole page (the primary key starts with message_id).
import type { Database } from "bun:sqlite";
import type { ReactionTally } from "./message-view";

export function loadReactions(client: Database, messageIds: string[]): Map<string, ReactionTally[]> {
  const byMessage = new Map<string, ReactionTally[]>();
  if (messageIds.length === 0) return byMessage;
  const rows = client
    .query<{ message_id: string; emoji: string; user_id: string }, string[]>(
      `SELECT message_id, emoji, user_id FROM reactions WHERE message_id IN (${messageIds.map(() => "?").join(",")})
       ORDER BY message_id, created_at, emoji, user_id`,
    )
    .all(...messageIds);
  for (const row of rows) {
    let tallies = byMessage.get(row.message_id);
    if (!tallies) byMessage.set(row.message_id, (tallies = []));
    let tally = tallies.find((t) => t.emoji === row.emoji);
    if (!tally) tallies.push((tally = { emoji: row.emoji, userIds: [] }));
    tally.userIds.push(row.user_id);
  }
  return byMessage;
}

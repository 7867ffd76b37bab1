// The entries this cluster writes to its Redis Stream (realtime/redis-bus.ts), one field map each:
//   i   the instance that wrote it (its own entries are skipped when read back)
//   k   the kind: p publish, j/l members joined/left, e sessions ended, on/off presence, x instance left
//   p:  t topics (space-separated), d the encoded event; for a rev-bearing event c conversation,
//       r rev, s seq (new messages); for message_read, rd "<user id> <last read seq>" and c
//   j/l: c conversation, u user ids (comma-separated)   e: u user, m reason, a API token id
//   on/off: u user

/**
 * Another instance's committed change as the relay sees it, for this instance's caches (the change
 * feed keeps them exact for its own commits only): a change that took a rev (`seq` when it was a
 * new message), a conversation's members moved, or a member's read cursor moved.
 */
export type RemoteChange =
  | { kind: "revision"; conversationId: string; rev: number; seq?: number }
  | { kind: "members"; conversationId: string }
  /** A member's read cursor moved (not a revision: it carries no rev). */
  | { kind: "read"; conversationId: string; userId: string; seq: number }
  /** The broker was unreachable: other instances' changes of that time were never relayed. */
  | { kind: "outage" };

export type Fields = Record<string, string>;

/** The conversation, rev and seq an event carries (rev-bearing events only), from its topic or body. */
export function revOf(topic: string, event: any): { c: string; r: number; s?: number } | null {
  if (typeof event?.rev !== "number") return null;
  const c = topic.startsWith("conversation:")
    ? topic.slice("conversation:".length)
    : (event.conversation_id ?? event.conversation?.id ?? event.message?.conversation_id);
  if (typeof c !== "string") return null;
  return { c, r: event.rev, s: event.type === "new_message" ? event.message?.seq : undefined };
}

/** A read cursor's move, for other instances' caches (their unread counts and is_read). */
export function readMark(event: any): Fields {
  if (event?.type !== "message_read" || typeof event.conversation_id !== "string") return {};
  return { rd: `${event.user_id} ${event.last_read_seq}`, c: event.conversation_id };
}

/** The entries of one stream in an XREAD reply (RESP3 map, or RESP2 array of [key, entries]). */
export function entriesOf(reply: unknown, key: string): [string, string[]][] {
  if (!reply) return [];
  if (Array.isArray(reply)) {
    const found = reply.find((r) => Array.isArray(r) && r[0] === key) as [string, [string, string[]][]] | undefined;
    return found?.[1] ?? [];
  }
  return ((reply as Record<string, [string, string[]][]>)[key] ?? []) as [string, string[]][];
}

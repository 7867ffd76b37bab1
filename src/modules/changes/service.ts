// What changed in a conversation after a rev: every message created or changed since, in its
// current state (tombstones included), in rev order, plus the Conversation when its name, members
// or roles changed. Serves GET /conversations/{id}/changes and the socket's sync with `revs`.
import { notFound } from "../../errors";
import type { Hub } from "../../ports/bus";
import { getConversationRow, toConversationViews } from "../conversations/service";
import type { ConversationView } from "../conversations/model";
import { toMessageView } from "../messages/message-view";
import type { MessageView } from "../messages/model";
import { isReadFor } from "../messages/service";
import type { MessageRecord, Storage } from "../../ports/stores";

export const DEFAULT_CHANGES_LIMIT = 100;
export const MAX_CHANGES_LIMIT = 500;

export interface Changes {
  /** The rev the client holds after applying this page (the conversation's rev on the last page). */
  rev: number;
  has_more: boolean;
  conversation: ConversationView | null;
  messages: MessageView[];
}

export async function changesSince(
  s: Storage,
  hub: Pick<Hub, "isOnline">,
  me: string,
  conversationId: string,
  sinceRev: number,
  limit: number,
): Promise<Changes> {
  const state = await s.caches.conversationStates.readState(conversationId, me);
  if (!state) throw notFound("Conversation");
  const row = await getConversationRow(s, me, conversationId);
  let rows = await s.stores.messages.changedSince(conversationId, sinceRev, limit + 1);
  let hasMore = false;
  if (rows.length > limit) {
    hasMore = true;
    // A page never splits one change (a reply and its parent share a rev): the client resumes
    // from the last rev it got whole. When the first change alone is bigger than `limit`, the page
    // holds that whole change, so every page makes progress.
    const cut = rows[limit]!.rev;
    if (rows[0]!.rev === cut) ({ rows, more: hasMore } = await wholeFirstChange(s, conversationId, sinceRev, limit));
    else while (rows.at(-1)!.rev === cut) rows.pop();
  }
  // The conversation's rev, or the newest change read if one committed after `row` was read. A
  // client ahead of the server (since_rev above its rev, e.g. after a restore) is told the real rev
  // and given the conversation to start again from.
  const current = Math.max(row.rev, rows.at(-1)?.rev ?? 0);
  const rev = hasMore ? rows.at(-1)!.rev : current;
  const ahead = sinceRev > current;
  const reactions = await s.stores.messages.reactions(rows.map((m) => m.id));
  return {
    rev,
    has_more: hasMore,
    conversation: row.metaRev > sinceRev || ahead ? (await toConversationViews(s, hub, me, [row]))[0]! : null,
    messages: rows.map((m) => toMessageView(m, isReadFor(m, me, state), reactions.get(m.id), me)),
  };
}

/** Every message of the first change after `sinceRev`, however many (reads until the rev moves on). */
async function wholeFirstChange(
  s: Storage,
  conversationId: string,
  sinceRev: number,
  limit: number,
): Promise<{ rows: MessageRecord[]; more: boolean }> {
  for (let size = limit * 2 + 1; ; size *= 2) {
    const rows = await s.stores.messages.changedSince(conversationId, sinceRev, size);
    const first = rows[0]!.rev;
    const end = rows.findIndex((m) => m.rev !== first);
    if (end >= 0) return { rows: rows.slice(0, end), more: true };
    if (rows.length < size) return { rows, more: false };
  }
}

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
import type { Storage } from "../../ports/stores";

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
  const rows = await s.stores.messages.changedSince(conversationId, sinceRev, limit + 1);
  let hasMore = false;
  if (rows.length > limit) {
    hasMore = true;
    // A page never splits one change (a reply and its parent share a rev): the client resumes
    // from the last rev it got whole.
    const cut = rows[limit]!.rev;
    while (rows.length > 0 && rows.at(-1)!.rev === cut) rows.pop();
  }
  const rev = hasMore ? (rows.at(-1)?.rev ?? sinceRev) : Math.max(row.rev, sinceRev);
  const reactions = await s.stores.messages.reactions(rows.map((m) => m.id));
  return {
    rev,
    has_more: hasMore,
    conversation: row.metaRev > sinceRev ? (await toConversationViews(s, hub, me, [row]))[0]! : null,
    messages: rows.map((m) => toMessageView(m, isReadFor(m, me, state), reactions.get(m.id), me)),
  };
}

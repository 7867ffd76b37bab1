// The `typing` frame: checked against in-memory membership (a flood for foreign conversations costs no
// query), throttled per user and conversation, and never heard by members who blocked the typist.
import type { Deps } from "../../deps";
import { ApiError } from "../../errors";
import { iso, now } from "../../lib/time";
import { blockCache } from "../../modules/blocks/service";
import { conversationStates } from "../../modules/messages/conversation-state";
import { userTopic } from "../../ports/bus";
import type { BunHub } from "../bun-hub";
import { TYPING_THROTTLE_MS } from "../protocol";

export function createTypingFrame(deps: Deps & { hub: BunHub }) {
  const { db, hub } = deps;
  const states = conversationStates(db);
  const typingSeen = new Map<string, number>();
  return function onTyping(userId: string, conversationId: string) {
    // From memory: a flood of typing frames for conversations the user is not in costs no query.
    const members = hub.isMemberOnline(userId, conversationId) ? states.get(conversationId)?.cursors : undefined;
    if (!members?.has(userId)) throw new ApiError(404, "not_found", "Conversation not found");
    const t = now();
    // Throttled per user and conversation, across all of the user's devices.
    const key = `${userId}:${conversationId}`;
    if (t - (typingSeen.get(key) ?? 0) < TYPING_THROTTLE_MS) return;
    typingSeen.set(key, t);
    if (typingSeen.size > 100_000) typingSeen.clear();
    const payload = JSON.stringify({ type: "user_typing", user_id: userId, conversation_id: conversationId, timestamp: iso(t) });
    // Members who blocked the typist hear nothing from them.
    const blockers = blockCache(db).blockersOf(userId);
    const topics: string[] = [];
    for (const id of members.keys()) if (id !== userId && !blockers.has(id)) topics.push(userTopic(id));
    hub.publishEncoded(topics, payload);
  };
}

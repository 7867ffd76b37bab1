// The `typing` frame: checked against in-memory membership (a flood for foreign conversations costs no
// query), throttled per user and conversation, and never heard by members who blocked the typist.
import type { Deps } from "../../deps";
import { ApiError } from "../../errors";
import { iso, now } from "../../lib/time";
import { blockersOf } from "../../modules/blocks/service";
import { userTopic } from "../../ports/bus";
import { andThen } from "../../ports/stores";
import type { BunHub } from "../bun-hub";
import { TYPING_THROTTLE_MS } from "../protocol";

export function createTypingFrame(deps: Deps & { hub: BunHub }) {
  const { hub } = deps;
  const states = deps.caches.conversationStates;
  const typingSeen = new Map<string, number>();
  return function onTyping(userId: string, conversationId: string) {
    // From memory: a flood of typing frames for conversations the user is not in costs no query.
    if (!hub.isMemberOnline(userId, conversationId)) throw notMember();
    return andThen(states.get(conversationId), (state) => {
      if (!state?.cursors.has(userId)) throw notMember();
      return announce(userId, conversationId, state.cursors);
    });
  };

  function announce(userId: string, conversationId: string, members: ReadonlyMap<string, number>) {
    const t = now();
    // Throttled per user and conversation, across all of the user's devices.
    const key = `${userId}:${conversationId}`;
    if (t - (typingSeen.get(key) ?? 0) < TYPING_THROTTLE_MS) return;
    typingSeen.set(key, t);
    if (typingSeen.size > 100_000) typingSeen.clear();
    const payload = JSON.stringify({ type: "user_typing", user_id: userId, conversation_id: conversationId, timestamp: iso(t) });
    // Members who blocked the typist hear nothing from them.
    return andThen(blockersOf(deps, userId), (blockers) => {
      const topics: string[] = [];
      for (const id of members.keys()) if (id !== userId && !blockers.has(id)) topics.push(userTopic(id));
      hub.publishEncoded(topics, payload);
    });
  }
}

const notMember = () => new ApiError(404, "not_found", "Conversation not found");

// The `sync` frame: missed messages after `since` seqs as new_message frames, then `changes` frames
// after `revs`. Each round's work is bounded (SYNC_MAX_PER_ROUND messages from at most
// SYNC_MAX_CONVERSATIONS_PER_ROUND conversations, the rest is has_more), ends early under Bun's
// backpressure limit, and is paced by a per-user byte budget (SYNC_BYTES_PER_SECOND).
import type { Deps } from "../../deps";
import { iso, monotonicMs, now } from "../../lib/time";
import { changesSince } from "../../modules/changes/service";
import { fetchMessages, isReadFor, toMessageView } from "../../modules/messages/service";
import type { BunHub, ChatSocket } from "../bun-hub";
import {
  SYNC_BYTES_PER_SECOND,
  SYNC_MAX_BUFFERED_BYTES,
  SYNC_MAX_CONVERSATIONS_PER_ROUND,
  SYNC_MAX_PER_ROUND,
  SYNC_PAGE,
  type SyncRequest,
} from "../protocol";
import type { SocketState } from "../socket-state";
import type { Reply } from "./reply";

export function createSyncFrame(deps: Deps & { hub: BunHub }, { send, sendError }: Reply) {
  const { hub } = deps;
  const states = deps.caches.conversationStates;
  /** Per user: sync output bytes available now (may dip below zero by one message) and when refilled. */
  const syncBudgets = new Map<string, { bytes: number; at: number }>();
  const SYNC_BURST_BYTES = 2 * SYNC_BYTES_PER_SECOND;
  /** A paced round waits for this much budget: rounds of a message or two would cost a frame each. */
  const SYNC_MIN_ROUND_BYTES = SYNC_BYTES_PER_SECOND / 8;

  function syncBudget(userId: string) {
    const t = monotonicMs();
    let budget = syncBudgets.get(userId);
    if (!budget) {
      // Idle users' budgets are full again: forgetting them loses nothing.
      if (syncBudgets.size >= 10_000) syncBudgets.clear();
      syncBudgets.set(userId, (budget = { bytes: SYNC_BURST_BYTES, at: t }));
    }
    budget.bytes = Math.min(SYNC_BURST_BYTES, budget.bytes + ((t - budget.at) * SYNC_BYTES_PER_SECOND) / 1000);
    budget.at = t;
    return budget;
  }

  function onSync(ws: ChatSocket, userId: string, positions: SyncRequest): Promise<void> | void {
    if (!deps.config.rateLimit) return syncRound(ws, userId, positions, { bytes: Infinity });
    const state = ws.data as SocketState;
    const bytes = syncBudget(userId);
    if (bytes.bytes < SYNC_MIN_ROUND_BYTES || state.syncTimer) {
      // Spent: the round runs when the budget has refilled (a later sync on this socket replaces it).
      state.pendingSync = positions;
      state.syncTimer ??= setTimeout(
        () => {
          state.syncTimer = null;
          const next = state.pendingSync;
          state.pendingSync = null;
          // A failed round ends with an error frame as the dispatcher would send it.
          if (next && !state.closed) void Promise.resolve(onSync(ws, userId, next)).catch((error) => sendError(ws, error));
        },
        Math.ceil(((SYNC_MIN_ROUND_BYTES - bytes.bytes) * 1000) / SYNC_BYTES_PER_SECOND) + 5,
      );
      return;
    }
    return syncRound(ws, userId, positions, bytes);
  }

  async function syncRound(ws: ChatSocket, userId: string, request: SyncRequest, bytes: { bytes: number }) {
    let budget = SYNC_MAX_PER_ROUND;
    let conversationsRead = 0;
    let hasMore = false;
    const timestamp = iso(now());
    // Per conversation, the seqs this round sent as new_message (current state, reactions included):
    // its changes frame leaves those out, so a client sending both since and revs gets each once.
    const served = new Map<string, { after: number; upTo: number }>();
    for (const [conversationId, since] of request.since) {
      // Not a member: ignored, as the contract says, without a query. Up to date: nothing to read.
      if (!hub.isMemberOnline(userId, conversationId)) continue;
      const state = await states.readState(conversationId, userId);
      if (!state || since >= state.lastSeq) continue;
      if (budget <= 0 || conversationsRead >= SYNC_MAX_CONVERSATIONS_PER_ROUND) {
        hasMore = true;
        break;
      }
      conversationsRead++;
      const limit = Math.min(SYNC_PAGE, budget);
      const rows = await fetchMessages(deps, conversationId, { limit: limit + 1, after: since });
      if (rows.length > limit) {
        hasMore = true;
        rows.length = limit;
      }
      const reactions = await deps.stores.messages.reactions(rows.map((m) => m.id));
      for (const m of rows) {
        const message = toMessageView(m, isReadFor(m, userId, state), reactions.get(m.id), userId);
        const frame = JSON.stringify({ type: "new_message", message, rev: m.rev, timestamp });
        served.set(conversationId, { after: since, upTo: m.seq });
        ws.send(frame);
        bytes.bytes -= frame.length;
        budget--;
        // A whole round written at once can pass Bun's backpressure limit, and Bun then drops the very
        // client that asked to catch up. End the round early instead; the client asks again from its new seqs.
        // Likewise when the user's sync budget is spent: the next round waits for it.
        if (ws.getBufferedAmount() > SYNC_MAX_BUFFERED_BYTES || bytes.bytes <= 0) {
          send(ws, { type: "sync_done", has_more: true });
          return;
        }
      }
    }
    // v2: `revs` answers with `changes` frames (edits, deletes, reactions, members), same budget.
    for (const [conversationId, rev] of request.revs) {
      if (hasMore) break;
      if (!hub.isMemberOnline(userId, conversationId)) continue;
      const state = await states.get(conversationId);
      if (!state || rev >= state.rev) continue;
      if (budget <= 0 || conversationsRead >= SYNC_MAX_CONVERSATIONS_PER_ROUND) {
        hasMore = true;
        break;
      }
      conversationsRead++;
      const changes = await changesSince(deps, hub, userId, conversationId, rev, Math.min(SYNC_PAGE, budget));
      const sent = served.get(conversationId);
      if (sent) changes.messages = changes.messages.filter((m) => m.seq <= sent.after || m.seq > sent.upTo);
      const frame = JSON.stringify({
        type: "changes",
        conversation_id: conversationId,
        rev: changes.rev,
        ...(changes.conversation ? { conversation: changes.conversation } : {}),
        messages: changes.messages,
        has_more: changes.has_more,
      });
      ws.send(frame);
      bytes.bytes -= frame.length;
      budget -= Math.max(1, changes.messages.length);
      if (changes.has_more) hasMore = true;
      if (ws.getBufferedAmount() > SYNC_MAX_BUFFERED_BYTES || bytes.bytes <= 0) {
        send(ws, { type: "sync_done", has_more: true });
        return;
      }
    }
    send(ws, { type: "sync_done", has_more: hasMore });
  }

  return onSync;
}

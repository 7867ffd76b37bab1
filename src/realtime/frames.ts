// Frames of an authenticated socket: message, mark_read, received, typing, ping and sync. Each frame's work is
// bounded whatever it carries: conversation ids are checked against the user's in-memory membership
// before any query, and a sync serves at most SYNC_MAX_PER_ROUND messages from at most
// SYNC_MAX_CONVERSATIONS_PER_ROUND conversations (the rest is has_more), and sync output is paced by
// a per-user byte budget (SYNC_BYTES_PER_SECOND).
import type { Deps } from "../deps";
import { ApiError, storageApiError } from "../errors";
import { iso, monotonicMs, now } from "../lib/time";
import { blockCache } from "../modules/blocks/service";
import { conversationStates } from "../modules/messages/conversation-state";
import { deliveryReceipts } from "../modules/messages/receipts";
import { prepareSend } from "../modules/messages/send";
import { fetchMessages, isReadFor, markRead, readState, toMessageView } from "../modules/messages/service";
import type { BunHub, ChatSocket } from "./bun-hub";
import { userTopic } from "../ports/bus";
import type { SocketState } from "./socket-state";
import {
  clientMsgId,
  field,
  frameError,
  SYNC_BYTES_PER_SECOND,
  SYNC_MAX_BUFFERED_BYTES,
  SYNC_MAX_CONVERSATIONS_PER_ROUND,
  SYNC_MAX_PER_ROUND,
  SYNC_PAGE,
  syncPositions,
  syncRevs,
  seqField,
  TYPING_THROTTLE_MS,
  type SyncRequest,
} from "./protocol";
import { changesSince } from "../modules/changes/service";
import { loadReactions } from "../modules/messages/reaction-tallies";

export function createFrameHandler(deps: Deps & { hub: BunHub }) {
  const { db, hub, log } = deps;
  const states = conversationStates(db);
  const receipts = deliveryReceipts(db, deps.changes);
  const typingSeen = new Map<string, number>();
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

  const send = (ws: ChatSocket, event: object) => ws.send(JSON.stringify(event));
  const sendError = (ws: ChatSocket, error: unknown, ref?: string) => {
    // A full or failing disk gets the same storage_* codes as REST (and counts for /health).
    const known = error instanceof ApiError ? error : storageApiError(error, deps.storage);
    const e = known ? { code: known.code, detail: known.detail } : { code: "internal_error", detail: "Internal server error" };
    if (!known) log.error("socket frame failed", { error: String(error) });
    send(ws, { type: "error", ...e, ...(ref !== undefined ? { ref } : {}) });
  };

  function onMessage(ws: ChatSocket, userId: string, frame: Record<string, unknown>) {
    const id = clientMsgId(frame);
    const request = prepareSend(db, deps.changes, userId, {
      conversationId: field(frame, "conversation_id", "optional-uuid"),
      recipientId: field(frame, "recipient_id", "optional-uuid"),
      content: frame.content,
      clientMsgId: id,
      // Attachments (issue 14): validated by prepareSend.
      attachmentIds: frame.attachment_ids,
      replyToId: field(frame, "reply_to_id", "optional-uuid"),
    });
    deps.writer.submit(request, (error, result) => {
      if (error) return sendError(ws, error, id);
      let message = result!.message;
      if (!result!.created) {
        // A repeat returns the original as it is now, as the REST send does: it may have been read since.
        const state = readState(db, message.conversation_id, userId);
        if (state) message = { ...message, is_read: isReadFor(message, userId, state) };
      }
      send(ws, { type: "message_ack", client_msg_id: id ?? null, message });
    });
  }

  function onTyping(userId: string, conversationId: string) {
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
  }

  function onSync(ws: ChatSocket, userId: string, positions: SyncRequest) {
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
          if (next && !state.closed) onSync(ws, userId, next);
        },
        Math.ceil(((SYNC_MIN_ROUND_BYTES - bytes.bytes) * 1000) / SYNC_BYTES_PER_SECOND) + 5,
      );
      return;
    }
    syncRound(ws, userId, positions, bytes);
  }

  function syncRound(ws: ChatSocket, userId: string, request: SyncRequest, bytes: { bytes: number }) {
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
      const state = states.readState(conversationId, userId);
      if (!state || since >= state.lastSeq) continue;
      if (budget <= 0 || conversationsRead >= SYNC_MAX_CONVERSATIONS_PER_ROUND) {
        hasMore = true;
        break;
      }
      conversationsRead++;
      const limit = Math.min(SYNC_PAGE, budget);
      const rows = fetchMessages(db, conversationId, { limit: limit + 1, after: since });
      if (rows.length > limit) {
        hasMore = true;
        rows.length = limit;
      }
      const reactions = loadReactions(db.$client, rows.map((m) => m.id));
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
      const state = states.get(conversationId);
      if (!state || rev >= state.rev) continue;
      if (budget <= 0 || conversationsRead >= SYNC_MAX_CONVERSATIONS_PER_ROUND) {
        hasMore = true;
        break;
      }
      conversationsRead++;
      const changes = changesSince(db, hub, userId, conversationId, rev, Math.min(SYNC_PAGE, budget));
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

  /** Handles one frame of an authenticated socket; every problem becomes an error frame. */
  return function handleFrame(ws: ChatSocket, raw: string) {
    const userId = ws.data.userId!;
    let frame: Record<string, unknown>;
    try {
      const parsed = JSON.parse(raw);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error();
      frame = parsed;
    } catch {
      return sendError(ws, frameError("invalid_json", "Frame must be a JSON object"));
    }
    let ref: string | undefined;
    try {
      ref = typeof frame.client_msg_id === "string" ? frame.client_msg_id : undefined;
      const type = frame.type;
      if (type === undefined || type === null) throw frameError("validation_error", "type: required");
      // {"type": {"toString": 1}} and friends: never coerced to a string.
      if (typeof type !== "string") throw frameError("validation_error", "type: must be a string");
      switch (type) {
        case "message":
          return onMessage(ws, userId, frame);
        case "mark_read":
          markRead(db, deps.changes, userId, field(frame, "message_id", "uuid")!);
          return;
        case "typing":
          return onTyping(userId, field(frame, "conversation_id", "uuid")!);
        case "received":
          // Coalesced in memory (receipts.ts): clients send one per message they display.
          return receipts.note(userId, field(frame, "conversation_id", "uuid")!.toLowerCase(), seqField(frame, "seq"));
        case "ping":
          return send(ws, { type: "pong", timestamp: iso(now()) });
        case "sync":
          return onSync(ws, userId, { since: syncPositions(frame), revs: syncRevs(frame) });
        default:
          throw frameError("unknown_type", `type: unknown frame type ${JSON.stringify(type.slice(0, 60))}`);
      }
    } catch (error) {
      sendError(ws, error, ref);
    }
  };
}

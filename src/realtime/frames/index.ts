// Frames of an authenticated socket, one file per frame type: message, typing and sync here beside
// this dispatcher; mark_read and received are one call each into their module. This file parses the
// frame, checks its type and turns every problem into an error frame.
import type { Deps } from "../../deps";
import { iso, now } from "../../lib/time";
import { markRead } from "../../modules/messages/service";
import type { BunHub, ChatSocket } from "../bun-hub";
import { field, frameError, seqField, syncPositions, syncRevs } from "../protocol";
import { createMessageFrame } from "./message";
import { createReply } from "./reply";
import { createSyncFrame } from "./sync";
import { createTypingFrame } from "./typing";

export function createFrameHandler(deps: Deps & { hub: BunHub }) {
  const reply = createReply(deps);
  const { send, sendError } = reply;
  const { receipts } = deps;
  const onMessage = createMessageFrame(deps, reply);
  const onTyping = createTypingFrame(deps);
  const onSync = createSyncFrame(deps, reply);

  /** Handles one frame of an authenticated socket; every problem becomes an error frame. */
  function handleFrame(ws: ChatSocket, raw: string): void {
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
      // A frame whose storage work is pending (a networked store) answers its error when it fails.
      const pending = dispatch(ws, userId, frame);
      if (pending instanceof Promise) pending.catch((error) => sendError(ws, error, ref));
    } catch (error) {
      sendError(ws, error, ref);
    }
  }

  function dispatch(ws: ChatSocket, userId: string, frame: Record<string, unknown>): unknown {
    const type = frame.type;
    if (type === undefined || type === null) throw frameError("validation_error", "type: required");
    // {"type": {"toString": 1}} and friends: never coerced to a string.
    if (typeof type !== "string") throw frameError("validation_error", "type: must be a string");
    switch (type) {
      case "message":
      case "mark_read": {
        // Writes: while a commit waits on a stalled disk they wait for it, in arrival order, instead
        // of blocking the loop (a DM created by recipient_id, a read cursor).
        const stalled = deps.storage?.writesWait();
        if (stalled) return stalled.then(() => dispatch(ws, userId, frame));
        if (type === "message") return onMessage(ws, userId, frame);
        return markRead(deps, deps.changes, userId, field(frame, "message_id", "uuid")!);
      }
      case "typing":
        return onTyping(userId, field(frame, "conversation_id", "uuid")!);
      case "received":
        // Coalesced in memory (receipts.ts): clients send one per message they display.
        return receipts.note(userId, field(frame, "conversation_id", "uuid")!, seqField(frame, "seq"));
      case "ping":
        return send(ws, { type: "pong", timestamp: iso(now()) });
      case "sync":
        return onSync(ws, userId, { since: syncPositions(frame), revs: syncRevs(frame) });
      default:
        throw frameError("unknown_type", `type: unknown frame type ${JSON.stringify(type.slice(0, 60))}`);
    }
  }

  return handleFrame;
}

// The `message` frame: validated and prepared like a REST send (messages/send.ts), queued on the
// group commit, acknowledged with message_ack after the commit; publishing is the change feed's.
import type { Deps } from "../../deps";
import { prepareSend } from "../../modules/messages/send";
import { isReadFor, readState } from "../../modules/messages/service";
import { andThen } from "../../ports/stores";
import type { ChatSocket } from "../bun-hub";
import { clientMsgId, field } from "../protocol";
import type { Reply } from "./reply";

export function createMessageFrame(deps: Deps, { send, sendError }: Reply) {
  /**
   * A socket's sends reach the writer in frame order. On a store whose checks return promises
   * (PostgreSQL) one frame's checks may finish before an earlier one's: each waits for the previous
   * frame's submit (the checks still run concurrently). Never set on SQLite, whose checks are synchronous.
   */
  const submitted = new WeakMap<ChatSocket, Promise<unknown>>();
  return function onMessage(ws: ChatSocket, userId: string, frame: Record<string, unknown>) {
    const id = clientMsgId(frame);
    const request = prepareSend(deps, deps.changes, deps.hub, userId, {
      conversationId: field(frame, "conversation_id", "optional-uuid"),
      recipientId: field(frame, "recipient_id", "optional-uuid"),
      content: frame.content,
      clientMsgId: id,
      // Attachments (issue 14): validated by prepareSend.
      attachmentIds: frame.attachment_ids,
      replyToId: field(frame, "reply_to_id", "optional-uuid"),
    });
    const submit = (prepared: Awaited<typeof request>) =>
      deps.writer.submit(prepared, (error, result) => {
        if (error) return sendError(ws, error, id);
        const message = result!.message;
        // rev: the message's, as on every frame about a conversation (the change it reports).
        if (result!.created) return send(ws, { type: "message_ack", client_msg_id: id ?? null, message, rev: message.rev });
        // A repeat returns the original as it is now, as the REST send does: it may have been read since.
        andThen(readState(deps, message.conversation_id, userId), (state) => {
          const current = state ? { ...message, is_read: isReadFor(message, userId, state) } : message;
          send(ws, { type: "message_ack", client_msg_id: id ?? null, message: current, rev: message.rev });
        });
      });
    const previous = submitted.get(ws);
    // Synchronous on SQLite (no promise per message); a rejection is the dispatcher's error frame.
    if (!(request instanceof Promise) && !previous) return submit(request);
    const turn = Promise.all([previous, request]).then(([, prepared]) => submit(prepared));
    const tail = turn.catch(() => {});
    submitted.set(ws, tail);
    void tail.then(() => {
      if (submitted.get(ws) === tail) submitted.delete(ws);
    });
    return turn;
  };
}

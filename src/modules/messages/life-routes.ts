// Message life routes (issue 13): edit, delete, reactions, delivery receipts. Mounted inside the
// messages module (which gives the /api/v1 prefix); README "Message life" has the decisions.
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { filesDirOf } from "../attachments/store";
import { authPlugin, bearerSecurity } from "../auth/plugin";
import { ErrorBody, errorResponses, IdParams, parseBody, UuidInput } from "../shared-model";
import { deleteMessage, editMessage } from "./edit";
import { DeliveredBody, DeliveryReceiptView, EditMessageBody, MessageView, ReceiptView } from "./model";
import { MAX_DISTINCT_EMOJI, setReaction } from "./reactions";

const withForbidden = { ...errorResponses, 403: ErrorBody };
const ReactionParams = t.Object({
  message_id: UuidInput,
  emoji: t.String({ description: "One emoji (URL-encoded) or a :short_name: of at most 32 characters [a-z0-9_+-]" }),
});

export const messageLifeRoutes = (deps: Deps) => {
  const { receipts } = deps;
  const filesDir = filesDirOf(deps.config.dataDir);
  const react = (on: boolean) => ({ params, user }: { params: { message_id: string; emoji: string }; user: { id: string } }) =>
    setReaction(deps, deps.changes, user.id, params.message_id, params.emoji, on);
  const reactionDoc = (summary: string) => ({
    auth: true as const,
    params: ReactionParams,
    response: { 200: MessageView, ...errorResponses },
    detail: {
      summary,
      description: `Idempotent: when nothing changes no rev is spent and no frame is sent. At most ${MAX_DISTINCT_EMOJI} distinct emoji per message (422); a deleted message is a 404. Members get message_updated (reactions[].me is per reader).`,
      security: bearerSecurity,
    },
  });
  return new Elysia({ name: "message-life", tags: ["messages"] })
    .use(authPlugin(deps))
    .onParse(parseBody(deps.config.maxBodyBytes))
    .patch("/messages/:message_id", ({ params, body, user }) => editMessage(deps, deps.changes, user.id, params.message_id, body.content), {
      auth: true,
      params: IdParams("message_id"),
      body: EditMessageBody,
      response: { 200: MessageView, ...withForbidden },
      detail: {
        summary: "Edit your message",
        description:
          "Sender only (403 forbidden; 404 for a non-member or a deleted message). Same content rules as sending; sets edited_at and recomputes mentions. The same content again changes nothing (no rev, no frame). Members get message_updated.",
        security: bearerSecurity,
      },
    })
    .delete(
      "/messages/:message_id",
      async ({ params, user, set }) => {
        await deleteMessage(deps, deps.changes, user.id, params.message_id, filesDir);
        set.status = 204;
      },
      {
        auth: true,
        params: IdParams("message_id"),
        response: { 204: t.Void(), ...withForbidden },
        detail: {
          summary: "Delete a message (leaves a tombstone)",
          description:
            "The sender, or an owner or admin of the group. The message stays as a tombstone: same id and seq, content \"\", deleted_at set, no reactions or mentions, reply_to_id and reply_count kept. Deleting a tombstone again is a 204 that changes nothing. Members get message_updated.",
          security: bearerSecurity,
        },
      },
    )
    .put("/messages/:message_id/reactions/:emoji", react(true), reactionDoc("Add your reaction"))
    .delete("/messages/:message_id/reactions/:emoji", react(false), reactionDoc("Remove your reaction"))
    .put("/conversations/:conversation_id/received", ({ params, body, user }) => receipts.markNow(user.id, params.conversation_id, body.seq), {
      auth: true,
      params: IdParams("conversation_id"),
      body: DeliveredBody,
      response: { 200: DeliveryReceiptView, ...errorResponses },
      detail: {
        summary: "Report messages delivered to this device",
        description:
          "The REST form of the socket's received frame: moves the caller's delivered cursor to seq (never back, never beyond the last seq). Members get message_delivered when it moved. Not a revision.",
        security: bearerSecurity,
      },
    })
    .get("/conversations/:conversation_id/receipts", ({ params, user }) => receipts.list(user.id, params.conversation_id), {
      auth: true,
      params: IdParams("conversation_id"),
      response: { 200: t.Array(ReceiptView), ...errorResponses },
      detail: {
        summary: "Every member's read and delivered cursors",
        description: "One entry per member, in joining order. last_delivered_seq is never below last_read_seq.",
        security: bearerSecurity,
      },
    });
};

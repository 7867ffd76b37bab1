// Message routes: send, page, mark read, unread counts (edits, reactions, receipts: life-routes.ts).
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { andThen } from "../../ports/stores";
import { authPlugin, bearerSecurity } from "../auth/plugin";
import { errorResponses, IdParams, parseBody } from "../shared-model";
import { DEFAULT_PAGE_SIZE, MessagePageQuery, MessageView, ReadReceipt, SendMessageBody, UnreadCounts } from "./model";
import { prepareSend } from "./send";
import { messageLifeRoutes } from "./life-routes";
import { isReadFor, markRead, messagePageJson, readState, unreadCounts, unreadTotals } from "./service";

const JSON_HEADERS = { "content-type": "application/json" };

export const messagesModule = (deps: Deps) =>
  new Elysia({ prefix: "/api/v1", tags: ["messages"] })
    .use(authPlugin(deps))
    .onParse(parseBody(deps.config.maxBodyBytes))
    .use(messageLifeRoutes(deps))
    .post(
      "/conversations/:conversation_id/messages",
      async ({ params, body, user, set }) => {
        const request = await prepareSend(deps, deps.changes, deps.hub, user.id, {
          conversationId: params.conversation_id,
          content: body.content,
          clientMsgId: body.client_msg_id,
          attachmentIds: body.attachment_ids,
          replyToId: body.reply_to_id,
        });
        const result = await deps.writer.send(request);
        set.status = result.created ? 201 : 200;
        if (result.created) return result.message;
        // A repeat returns the original as it is now: the others may have read it since it was sent.
        const state = await readState(deps, result.message.conversation_id, user.id);
        return state ? { ...result.message, is_read: isReadFor(result.message, user.id, state) } : result.message;
      },
      {
        auth: true,
        params: IdParams("conversation_id"),
        body: SendMessageBody,
        response: { 200: MessageView, 201: MessageView, ...errorResponses },
        detail: {
          summary: "Send a message",
          description: "201 with the new message; 200 with the original when client_msg_id repeats. Published to every member's sockets.",
          security: bearerSecurity,
        },
      },
    )
    .get(
      "/conversations/:conversation_id/messages",
      ({ params, query, user }) =>
        // Encoded by the service (mostly from memory, no promise on SQLite); the schema below documents it.
        andThen(
          messagePageJson(deps, user.id, params.conversation_id, {
            limit: query.limit ?? DEFAULT_PAGE_SIZE,
            before: query.before,
            after: query.after,
            replyTo: query.reply_to?.toLowerCase(),
          }),
          (body) => new Response(body, { headers: JSON_HEADERS }),
        ),
      {
        auth: true,
        params: IdParams("conversation_id"),
        query: MessagePageQuery,
        response: { 200: t.Array(MessageView), ...errorResponses },
        detail: {
          summary: "Page messages in ascending seq (latest, before=S or after=S)",
          description:
            "Deleted messages stay as tombstones (content \"\", deleted_at set) so seq has no gaps. With reply_to=<message_id>: only the replies to that message, paged the same way.",
          security: bearerSecurity,
        },
      },
    )
    .put("/messages/:message_id/read", ({ params, user }) => markRead(deps, deps.changes, user.id, params.message_id), {
      auth: true,
      params: IdParams("message_id"),
      response: { 200: ReadReceipt, ...errorResponses },
      detail: { summary: "Mark this message and every earlier one as read", security: bearerSecurity },
    })
    .get(
      "/messages/unread/count",
      async ({ user }) => unreadTotals(await unreadCounts(deps, user.id)),
      {
        auth: true,
        response: { 200: UnreadCounts, ...errorResponses },
        detail: {
          summary: "Unread messages, total and per conversation",
          description:
            "Messages from others above the caller's read cursor (tombstones excluded), per conversation with any. mention_count counts those that mention the caller. Muted conversations keep their entry (muted: true) and their mentions count in the total mention_count, but their messages are left out of the total unread_count.",
          security: bearerSecurity,
        },
      },
    );

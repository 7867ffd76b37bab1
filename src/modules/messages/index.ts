// Message routes: send, page, mark read, unread counts.
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { authPlugin, bearerSecurity } from "../auth/plugin";
import { errorResponses, IdParams, parseBody } from "../shared-model";
import { DEFAULT_PAGE_SIZE, MessagePageQuery, MessageView, ReadReceipt, SendMessageBody, UnreadCounts } from "./model";
import { prepareSend } from "./send";
import { isReadFor, markRead, messagePageJson, readState, unreadCounts } from "./service";

const JSON_HEADERS = { "content-type": "application/json" };

export const messagesModule = (deps: Deps) =>
  new Elysia({ prefix: "/api/v1", tags: ["messages"] })
    .use(authPlugin(deps))
    .onParse(parseBody(deps.config.maxBodyBytes))
    .post(
      "/conversations/:conversation_id/messages",
      async ({ params, body, user, set }) => {
        const request = prepareSend(deps.db, deps.changes, user.id, {
          conversationId: params.conversation_id,
          content: body.content,
          clientMsgId: body.client_msg_id,
          attachmentIds: body.attachment_ids,
        });
        const result = await deps.writer.send(request);
        set.status = result.created ? 201 : 200;
        if (result.created) return result.message;
        // A repeat returns the original as it is now: the others may have read it since it was sent.
        const state = readState(deps.db, result.message.conversation_id, user.id);
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
        // Encoded by the service (mostly from memory); the schema below documents it.
        new Response(
          messagePageJson(deps.db, user.id, params.conversation_id, {
            limit: query.limit ?? DEFAULT_PAGE_SIZE,
            before: query.before,
            after: query.after,
          }),
          { headers: JSON_HEADERS },
        ),
      {
        auth: true,
        params: IdParams("conversation_id"),
        query: MessagePageQuery,
        response: { 200: t.Array(MessageView), ...errorResponses },
        detail: { summary: "Page messages in ascending seq (latest, before=S or after=S)", security: bearerSecurity },
      },
    )
    .put("/messages/:message_id/read", ({ params, user }) => markRead(deps.db, deps.changes, user.id, params.message_id), {
      auth: true,
      params: IdParams("message_id"),
      response: { 200: ReadReceipt, ...errorResponses },
      detail: { summary: "Mark this message and every earlier one as read", security: bearerSecurity },
    })
    .get(
      "/messages/unread/count",
      ({ user }) => {
        const conversations = unreadCounts(deps.db, user.id);
        return { unread_count: conversations.reduce((sum, c) => sum + c.unread_count, 0), conversations };
      },
      {
        auth: true,
        response: { 200: UnreadCounts, ...errorResponses },
        detail: { summary: "Unread messages, total and per conversation", security: bearerSecurity },
      },
    );

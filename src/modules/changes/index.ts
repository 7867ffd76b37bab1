// GET /conversations/{id}/changes: how a client that missed changes (a rev gap) catches up.
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { authPlugin, bearerSecurity } from "../auth/plugin";
import { ConversationView } from "../conversations/model";
import { MessageView } from "../messages/model";
import { errorResponses, IdParams, QueryInt } from "../shared-model";
import { changesSince, DEFAULT_CHANGES_LIMIT, MAX_CHANGES_LIMIT } from "./service";

export const ChangesView = t.Object({
  rev: t.Integer({ minimum: 0, description: "Send this as since_rev next time (the conversation's rev on the last page)" }),
  has_more: t.Boolean(),
  conversation: t.Union([ConversationView, t.Null()], { description: "Present when the name, members or roles changed after since_rev" }),
  messages: t.Array(MessageView, { description: "Messages created or changed after since_rev, current state, in rev order" }),
});

export const changesModule = (deps: Deps) =>
  new Elysia({ prefix: "/api/v1/conversations", tags: ["conversations"] }).use(authPlugin(deps)).get(
    "/:conversation_id/changes",
    ({ params, query, user }) =>
      changesSince(deps, deps.hub, user.id, params.conversation_id, query.since_rev ?? 0, query.limit ?? DEFAULT_CHANGES_LIMIT),
    {
      auth: true,
      params: IdParams("conversation_id"),
      query: t.Object({
        since_rev: QueryInt("since_rev", { minimum: 0, default: 0, description: "The last rev the client applied" }),
        limit: QueryInt("limit", { minimum: 1, maximum: MAX_CHANGES_LIMIT, default: DEFAULT_CHANGES_LIMIT, description: `Messages per page, default ${DEFAULT_CHANGES_LIMIT}, max ${MAX_CHANGES_LIMIT}; a page never splits one change, so one bigger than limit (a reply and its parent share a rev) comes whole` }),
      }),
      response: { 200: ChangesView, ...errorResponses },
      detail: {
        summary: "Everything that changed after a rev",
        description:
          "Every message created, edited, deleted (tombstone) or reacted to after since_rev in its current state, in rev order, and the Conversation when its name, members or roles changed. With has_more, ask again with since_rev = rev. A since_rev above the conversation's rev (a client ahead of a restored server) answers the real rev and the Conversation.",
        security: bearerSecurity,
      },
    },
  );

// Conversation routes: create, list, get, rename.
import { Elysia, t } from "elysia";
import type { AppDeps } from "../../app";
import { authPlugin, bearerSecurity } from "../auth/plugin";
import { errorResponses, IdParams, parseBody } from "../shared-model";
import { ConversationListQuery, ConversationView, CreateConversationBody, UpdateConversationBody } from "./model";
import {
  createConversation,
  getConversationRow,
  listConversationRows,
  renameConversation,
  toConversationViews,
} from "./service";

export const conversationsModule = (deps: AppDeps) => {
  const view = (me: string, row: Parameters<typeof toConversationViews>[3][number]) =>
    toConversationViews(deps.db, deps.hub, me, [row])[0]!;
  return new Elysia({ prefix: "/api/v1/conversations", tags: ["conversations"] })
    .use(authPlugin(deps))
    .onParse(parseBody(deps.config.maxBodyBytes))
    .post(
      "/",
      ({ body, user, set }) => {
        const { row, created } = createConversation(deps.db, deps.hub, user.id, body);
        set.status = created ? 201 : 200;
        return view(user.id, row);
      },
      {
        auth: true,
        body: CreateConversationBody,
        response: { 200: ConversationView, 201: ConversationView, ...errorResponses },
        detail: {
          summary: "Start a direct conversation or a group",
          description: "A direct conversation is unique per pair: asking again returns it with 200.",
          security: bearerSecurity,
        },
      },
    )
    .get(
      "/",
      ({ query, user }) =>
        toConversationViews(deps.db, deps.hub, user.id, listConversationRows(deps.db, user.id, query.limit ?? 50, query.offset ?? 0)),
      {
        auth: true,
        query: ConversationListQuery,
        response: { 200: t.Array(ConversationView), ...errorResponses },
        detail: { summary: "Your conversations, most recent activity first", security: bearerSecurity },
      },
    )
    .get("/:conversation_id", ({ params, user }) => view(user.id, getConversationRow(deps.db, user.id, params.conversation_id)), {
      auth: true,
      params: IdParams("conversation_id"),
      response: { 200: ConversationView, ...errorResponses },
      detail: { summary: "One of your conversations", security: bearerSecurity },
    })
    .put(
      "/:conversation_id",
      ({ params, body, user }) => view(user.id, renameConversation(deps.db, user.id, params.conversation_id, body.name)),
      {
        auth: true,
        params: IdParams("conversation_id"),
        body: UpdateConversationBody,
        response: { 200: ConversationView, ...errorResponses },
        detail: { summary: "Rename a group (direct conversations cannot be renamed)", security: bearerSecurity },
      },
    );
};
